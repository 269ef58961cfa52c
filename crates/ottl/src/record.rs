//! What a statement runs on: one item of a context with its resource and scope, and the walk
//! that visits every item of a context in a batch, removing those the visitor drops and any
//! container that dropping leaves empty.

use weir_otlp::{
    Decoded,
    proto::{
        common::v1::{InstrumentationScope, KeyValue},
        logs::v1::LogRecord,
        metrics::v1::{
            ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
            SummaryDataPoint, metric,
        },
        resource::v1::Resource,
        trace::v1::{Span, span},
    },
};

use crate::{Context, EvalError};

/// One item of a context, with its resource and scope, and the statement cache.
pub struct Record<'r> {
    pub(crate) resource: &'r mut Resource,
    pub(crate) scope: Option<&'r mut InstrumentationScope>,
    pub(crate) item: Item<'r>,
    pub(crate) cache: &'r mut Vec<KeyValue>,
}

impl Record<'_> {
    /// The item's resource.
    pub fn resource(&self) -> &Resource {
        self.resource
    }
}

/// The item below the scope.
pub(crate) enum Item<'r> {
    None,
    Span(&'r mut Span),
    Event(&'r mut Span, &'r mut span::Event),
    Metric(&'r mut Metric),
    /// A data point, its metric (whose data is lent out while its points are visited) and the
    /// metric's shape as it was.
    Point(&'r mut Metric, Shape, Point<'r>),
    Log(&'r mut LogRecord),
}

/// A data point of any type.
pub(crate) enum Point<'r> {
    Number(&'r mut NumberDataPoint),
    Histogram(&'r mut HistogramDataPoint),
    Exponential(&'r mut ExponentialHistogramDataPoint),
    Summary(&'r mut SummaryDataPoint),
}

/// A metric's type, temporality and monotonicity, as `metric.type` etc. read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) kind: i64,
    pub(crate) temporality: i64,
    pub(crate) monotonic: bool,
}

impl Shape {
    pub(crate) fn of(data: Option<&metric::Data>) -> Shape {
        use metric::Data;
        let (kind, temporality, monotonic) = match data {
            None => (0, 0, false),
            Some(Data::Gauge(_)) => (1, 0, false),
            Some(Data::Sum(s)) => (2, s.aggregation_temporality as i64, s.is_monotonic),
            Some(Data::Histogram(h)) => (3, h.aggregation_temporality as i64, false),
            Some(Data::ExponentialHistogram(h)) => (4, h.aggregation_temporality as i64, false),
            Some(Data::Summary(_)) => (5, 0, false),
        };
        Shape { kind, temporality, monotonic }
    }
}

/// What a visitor says of an item: keep it or drop it.
pub type Visit<'v> = dyn FnMut(&mut Record<'_>) -> Result<bool, EvalError> + 'v;

/// Visits every item of `context` in `data`, dropping those `visit` returns `false` for, and
/// then the scopes, resources and metrics left empty by drops. The first error stops the
/// visits (what follows is kept as it is) and is returned.
pub fn walk(context: Context, data: &mut Decoded, visit: &mut Visit<'_>) -> Result<(), EvalError> {
    let mut walker = Walker { context, visit, error: None, cache: Vec::new() };
    match data {
        Decoded::Traces(resources) => walker.traces(resources),
        Decoded::Metrics(resources) => walker.metrics(resources),
        Decoded::Logs(resources) => walker.logs(resources),
    }
    walker.error.map_or(Ok(()), Err)
}

/// Visits each resource of a batch as a resource-context record (no scope, no item).
pub fn visit_resource(
    resource: &mut Option<Resource>,
    visit: &mut Visit<'_>,
) -> Result<bool, EvalError> {
    let mut cache = Vec::new();
    let resource = resource.get_or_insert_with(Resource::default);
    visit(&mut Record { resource, scope: None, item: Item::None, cache: &mut cache })
}

struct Walker<'w, 'v> {
    context: Context,
    visit: &'w mut Visit<'v>,
    error: Option<EvalError>,
    cache: Vec<KeyValue>,
}

impl Walker<'_, '_> {
    /// Calls the visitor unless an error stopped the walk; an error keeps the item.
    fn call(
        &mut self,
        resource: &mut Resource,
        scope: Option<&mut InstrumentationScope>,
        item: Item<'_>,
    ) -> bool {
        if self.error.is_some() {
            return true;
        }
        self.cache.clear();
        let mut record = Record { resource, scope, item, cache: &mut self.cache };
        match (self.visit)(&mut record) {
            Ok(keep) => keep,
            Err(e) => {
                self.error = Some(e);
                true
            }
        }
    }

    /// Whether a container whose children went from `before` to `after` is still worth
    /// keeping: only a container emptied by drops goes.
    fn kept(before: usize, after: usize) -> bool {
        after > 0 || before == 0
    }

    fn traces(&mut self, resources: &mut Vec<weir_otlp::proto::trace::v1::ResourceSpans>) {
        resources.retain_mut(|rs| {
            let resource = rs.resource.get_or_insert_with(Resource::default);
            if self.context == Context::Resource {
                return self.call(resource, None, Item::None);
            }
            let before = rs.scope_spans.len();
            rs.scope_spans.retain_mut(|ss| {
                let scope = ss.scope.get_or_insert_with(InstrumentationScope::default);
                if self.context == Context::Scope {
                    let item = Item::None;
                    return self.call(resource, Some(scope), item);
                }
                let before = ss.spans.len();
                ss.spans.retain_mut(|span| {
                    if self.context == Context::Span {
                        let item = Item::Span(span);
                        return self.call(resource, Some(scope), item);
                    }
                    let mut events = std::mem::take(&mut span.events);
                    events.retain_mut(|event| {
                        let item = Item::Event(span, event);
                        self.call(resource, Some(scope), item)
                    });
                    span.events = events;
                    true
                });
                Self::kept(before, ss.spans.len())
            });
            Self::kept(before, rs.scope_spans.len())
        });
    }

    fn metrics(&mut self, resources: &mut Vec<weir_otlp::proto::metrics::v1::ResourceMetrics>) {
        resources.retain_mut(|rm| {
            let resource = rm.resource.get_or_insert_with(Resource::default);
            if self.context == Context::Resource {
                return self.call(resource, None, Item::None);
            }
            let before = rm.scope_metrics.len();
            rm.scope_metrics.retain_mut(|sm| {
                let scope = sm.scope.get_or_insert_with(InstrumentationScope::default);
                if self.context == Context::Scope {
                    let item = Item::None;
                    return self.call(resource, Some(scope), item);
                }
                let before = sm.metrics.len();
                sm.metrics.retain_mut(|metric| {
                    if self.context == Context::Metric {
                        let item = Item::Metric(metric);
                        return self.call(resource, Some(scope), item);
                    }
                    self.points(resource, scope, metric)
                });
                Self::kept(before, sm.metrics.len())
            });
            Self::kept(before, rm.scope_metrics.len())
        });
    }

    /// Visits a metric's points; whether the metric keeps any.
    fn points(
        &mut self,
        resource: &mut Resource,
        scope: &mut InstrumentationScope,
        metric: &mut Metric,
    ) -> bool {
        use metric::Data;
        let shape = Shape::of(metric.data.as_ref());
        let mut data = metric.data.take();
        let mut each = |point: Point<'_>, metric: &mut Metric| {
            let item = Item::Point(metric, shape, point);
            self.call(resource, Some(scope), item)
        };
        let (before, after) = match &mut data {
            None => (0, 0),
            Some(Data::Gauge(g)) => retain(&mut g.data_points, |p| each(Point::Number(p), metric)),
            Some(Data::Sum(s)) => retain(&mut s.data_points, |p| each(Point::Number(p), metric)),
            Some(Data::Histogram(h)) => {
                retain(&mut h.data_points, |p| each(Point::Histogram(p), metric))
            }
            Some(Data::ExponentialHistogram(h)) => {
                retain(&mut h.data_points, |p| each(Point::Exponential(p), metric))
            }
            Some(Data::Summary(s)) => {
                retain(&mut s.data_points, |p| each(Point::Summary(p), metric))
            }
        };
        // a statement may have set a new shape through `metric.*` while the data was out
        if metric.data.is_none() {
            metric.data = data;
        }
        Self::kept(before, after)
    }

    fn logs(&mut self, resources: &mut Vec<weir_otlp::proto::logs::v1::ResourceLogs>) {
        resources.retain_mut(|rl| {
            let resource = rl.resource.get_or_insert_with(Resource::default);
            if self.context == Context::Resource {
                return self.call(resource, None, Item::None);
            }
            let before = rl.scope_logs.len();
            rl.scope_logs.retain_mut(|sl| {
                let scope = sl.scope.get_or_insert_with(InstrumentationScope::default);
                if self.context == Context::Scope {
                    let item = Item::None;
                    return self.call(resource, Some(scope), item);
                }
                let before = sl.log_records.len();
                sl.log_records.retain_mut(|log| {
                    let item = Item::Log(log);
                    self.call(resource, Some(scope), item)
                });
                Self::kept(before, sl.log_records.len())
            });
            Self::kept(before, rl.scope_logs.len())
        });
    }
}

/// `retain_mut`, returning the lengths before and after.
fn retain<T>(items: &mut Vec<T>, keep: impl FnMut(&mut T) -> bool) -> (usize, usize) {
    let before = items.len();
    items.retain_mut(keep);
    (before, items.len())
}
