//! The metrics an evaluation emits, built by name.

use weir_otlp::proto::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, Sum, metric::Data, number_data_point,
};

/// Metrics being built, by name.
#[derive(Default)]
pub(super) struct Metrics(pub(super) std::collections::BTreeMap<&'static str, Metric>);

impl Metrics {
    pub(super) fn point(
        attributes: &[(String, String)],
        start: u64,
        now: u64,
        value: f64,
    ) -> NumberDataPoint {
        NumberDataPoint {
            attributes: attributes.iter().map(|(k, v)| weir_otlp::attributes::kv(k, v)).collect(),
            start_time_unix_nano: start,
            time_unix_nano: now,
            value: Some(number_data_point::Value::AsDouble(value)),
            ..NumberDataPoint::default()
        }
    }

    pub(super) fn sum(
        &mut self,
        name: &'static str,
        attributes: &[(String, String)],
        start: u64,
        now: u64,
        value: f64,
    ) {
        let metric = self.0.entry(name).or_insert_with(|| Metric {
            name: name.into(),
            data: Some(Data::Sum(Sum {
                data_points: Vec::new(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Metric::default()
        });
        if let Some(Data::Sum(s)) = &mut metric.data {
            s.data_points.push(Self::point(attributes, start, now, value));
        }
    }

    pub(super) fn gauge(
        &mut self,
        name: &'static str,
        attributes: &[(String, String)],
        now: u64,
        value: f64,
    ) {
        let metric = self.0.entry(name).or_insert_with(|| Metric {
            name: name.into(),
            unit: if name == "slo.objective" || name.ends_with("remaining") || name == "slo.sli" {
                "1".into()
            } else {
                String::new()
            },
            data: Some(Data::Gauge(Gauge { data_points: Vec::new() })),
            ..Metric::default()
        });
        if let Some(Data::Gauge(g)) = &mut metric.data {
            g.data_points.push(Self::point(attributes, 0, now, value));
        }
    }
}
