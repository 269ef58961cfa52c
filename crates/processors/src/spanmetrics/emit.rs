//! The metrics of the connector's series, as OTLP: `{namespace}.calls` and
//! `{namespace}.events` (monotonic sums) and `{namespace}.duration` (a histogram), per resource.

use weir_core::{Batch, Output};
use weir_otlp::proto::{
    common::v1::InstrumentationScope,
    metrics::v1::{
        AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Histogram,
        HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
        metric::Data, number_data_point,
    },
    resource::v1::Resource,
};

use super::{
    SpanMetrics,
    series::{Distribution, Series, Table},
};

impl SpanMetrics {
    /// The metrics of every series (delta: those updated since the last emission, then
    /// reset), stamped `unix`.
    pub(super) fn emit(&mut self, unix: u64, out: &mut Output) {
        let delta = self.config.delta();
        let since = self.last_flush_unix;
        let window = Window { delta, since, unix };
        let mut resources = Vec::new();
        for state in self.resources.values_mut() {
            let mut metrics = Vec::new();
            if let Some(sum) = window.sum(&mut state.calls) {
                metrics.push(self.config.metric("calls", "", sum));
            }
            if !self.config.histogram.disable {
                let (explicit, exponential) =
                    window.distributions(&mut state.durations, &self.bounds);
                let unit = &self.config.histogram.unit;
                if !explicit.data_points.is_empty() {
                    metrics.push(self.config.metric("duration", unit, Data::Histogram(explicit)));
                }
                if !exponential.data_points.is_empty() {
                    let data = Data::ExponentialHistogram(exponential);
                    metrics.push(self.config.metric("duration", unit, data));
                }
            }
            if let Some(sum) = window.sum(&mut state.events) {
                metrics.push(self.config.metric("events", "", sum));
            }
            if metrics.is_empty() {
                continue;
            }
            resources.push(ResourceMetrics {
                resource: Some(Resource {
                    attributes: state.attributes.clone(),
                    ..Resource::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "spanmetricsconnector".into(),
                        ..Default::default()
                    }),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                schema_url: String::new(),
            });
        }
        self.last_flush_unix = unix;
        if !resources.is_empty() {
            out.push_message(Batch::from(resources).into());
        }
    }
}

impl super::Config {
    fn metric(&self, name: &str, unit: &str, data: Data) -> Metric {
        let name = if self.namespace.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.namespace)
        };
        Metric { name, unit: unit.to_owned(), data: Some(data), ..Metric::default() }
    }
}

/// What one emission covers.
struct Window {
    delta: bool,
    /// The previous emission, in Unix nanoseconds.
    since: u64,
    unix: u64,
}

impl Window {
    fn temporality(&self) -> i32 {
        let temporality = if self.delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        };
        temporality as i32
    }

    /// The series to emit now, with their start times; in delta, those touched since.
    fn due<'a, T>(
        &'a self,
        table: &'a mut Table<T>,
    ) -> impl Iterator<Item = (u64, &'a mut Series<T>)> {
        table.values_mut().filter(|s| !self.delta || s.touched).map(|series| {
            series.touched = false;
            let start = if self.delta { self.since.max(series.start) } else { series.start };
            (start, series)
        })
    }

    fn sum(&self, table: &mut Table<u64>) -> Option<Data> {
        let (delta, unix) = (self.delta, self.unix);
        let data_points: Vec<NumberDataPoint> = self
            .due(table)
            .map(|(start, series)| {
                let value = series.data as i64;
                if delta {
                    series.data = 0;
                }
                NumberDataPoint {
                    attributes: series.attributes.clone(),
                    start_time_unix_nano: start,
                    time_unix_nano: unix,
                    value: Some(number_data_point::Value::AsInt(value)),
                    ..NumberDataPoint::default()
                }
            })
            .collect();
        (!data_points.is_empty()).then(|| {
            Data::Sum(Sum {
                data_points,
                aggregation_temporality: self.temporality(),
                is_monotonic: true,
            })
        })
    }

    fn distributions(
        &self,
        table: &mut Table<Distribution>,
        bounds: &[f64],
    ) -> (Histogram, ExponentialHistogram) {
        let temporality = self.temporality();
        let mut explicit =
            Histogram { data_points: Vec::new(), aggregation_temporality: temporality };
        let mut exponential =
            ExponentialHistogram { data_points: Vec::new(), aggregation_temporality: temporality };
        let (delta, unix) = (self.delta, self.unix);
        for (start, series) in self.due(table) {
            let d = &mut series.data;
            let exemplars = std::mem::take(&mut d.exemplars);
            match &d.exponential {
                Some(point) => exponential.data_points.push(ExponentialHistogramDataPoint {
                    attributes: series.attributes.clone(),
                    start_time_unix_nano: start,
                    time_unix_nano: unix,
                    count: d.count,
                    sum: Some(d.sum),
                    exemplars,
                    ..point.clone()
                }),
                None => explicit.data_points.push(HistogramDataPoint {
                    attributes: series.attributes.clone(),
                    start_time_unix_nano: start,
                    time_unix_nano: unix,
                    count: d.count,
                    sum: Some(d.sum),
                    bucket_counts: d.buckets.clone(),
                    explicit_bounds: bounds.to_vec(),
                    exemplars,
                    ..HistogramDataPoint::default()
                }),
            }
            if delta {
                d.reset();
            }
        }
        (explicit, exponential)
    }
}
