//! The bench report: a text table, JSON, and a self-contained HTML page with SVG plots.

use std::fmt::Write as _;

use super::{Report, Step};

/// One line per step, as printed while the bench runs.
pub(super) fn step_line(step: &Step) -> String {
    format!(
        "offered {:>9.0}/s  achieved {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  cpu {:>5.2} cores  {:>6.1} cpu-s/M  rss {:>6.1} MiB  errors {}  dropped {}  {}",
        step.offered,
        step.achieved,
        step.latency_ms.p50,
        step.latency_ms.p99,
        step.cpu_cores,
        step.cpu_seconds_per_million,
        step.rss_mib,
        step.errors,
        step.dropped,
        if step.sustainable { "ok" } else { "NOT SUSTAINABLE" }
    )
}

/// The text report.
pub fn text(report: &Report) -> String {
    let mut out = String::from(
        "   offered   achieved   p50 ms   p99 ms  p99.9 ms  cpu cores  cpu-s/M items  RSS MiB  errors  dropped  sustainable\n",
    );
    for step in &report.steps {
        let l = &step.latency_ms;
        let _ = writeln!(
            out,
            "{:>10.0} {:>10.0} {:>8.2} {:>8.2} {:>9.2} {:>10.2} {:>14.2} {:>8.1} {:>7} {:>8} {:>12}",
            step.offered,
            step.achieved,
            l.p50,
            l.p99,
            l.p999,
            step.cpu_cores,
            step.cpu_seconds_per_million,
            step.rss_mib,
            step.errors,
            step.dropped,
            step.sustainable
        );
    }
    match (report.knee, report.items_per_core) {
        (Some(knee), Some(per_core)) => {
            let step = &report.steps[knee];
            let _ = writeln!(
                out,
                "knee: {:.0} items/s at {:.2} cores = {:.0} items/s per core; p99 {:.2} ms; RSS {:.1} MiB",
                step.achieved, step.cpu_cores, per_core, step.latency_ms.p99, step.rss_mib
            );
        }
        _ => out.push_str("knee: no step was sustainable; lower --start-rate\n"),
    }
    if let Some(sizing) = &report.sizing {
        let _ = writeln!(
            out,
            "for {} items/s with {:.0} % headroom: {} replicas of {:.2} cores and {:.0} MiB{}",
            sizing.target_rate,
            sizing.headroom * 100.0,
            sizing.replicas,
            sizing.cores_per_replica,
            sizing.memory_mib_per_replica,
            if sizing.knee_reached {
                ""
            } else {
                " (every step was sustainable: raise --steps for the true knee)"
            }
        );
    }
    let _ = writeln!(out, "sink received {} items", report.sink_items);
    out
}

/// One line of a chart: label, colour, (x, y) points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// A line chart of `series` over the same x axis.
fn chart(title: &str, x_label: &str, y_label: &str, series: &[Series<'_>]) -> String {
    let (width, height, left, bottom, top, right) = (640.0, 320.0, 70.0, 40.0, 30.0, 20.0);
    let points = series.iter().flat_map(|(_, _, p)| p.iter());
    let x_max = points.clone().map(|p| p.0).fold(0.0, f64::max).max(1.0);
    let y_max = points.map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.1;
    let sx = |x: f64| left + x / x_max * (width - left - right);
    let sy = |y: f64| height - bottom - y / y_max * (height - bottom - top);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/><text x="{}" y="18" font-size="14" text-anchor="middle">{title}</text>"#,
        width / 2.0
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="#333"/><line x1="{left}" y1="{top}" x2="{left}" y2="{0}" stroke="#333"/>"##,
        height - bottom,
        width - right
    );
    for i in 0..=4 {
        let (x, y) = (x_max * i as f64 / 4.0, y_max * i as f64 / 4.0);
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="{}" y="{}" text-anchor="end">{}</text><line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#eee"/>"##,
            sx(x),
            height - bottom + 14.0,
            short(x),
            left - 4.0,
            sy(y) + 4.0,
            short(y),
            sy(y),
            width - right,
            sy(y),
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{x_label}</text><text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{y_label}</text>"#,
        (left + width - right) / 2.0,
        height - 6.0,
        height / 2.0,
        height / 2.0
    );
    for (i, (label, colour, points)) in series.iter().enumerate() {
        let path: Vec<String> =
            points.iter().map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))).collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for (x, y) in points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                sx(*x),
                sy(*y)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" fill="{colour}">{label}</text>"#,
            left + 10.0,
            top + 14.0 + 14.0 * i as f64
        );
    }
    svg.push_str("</svg>");
    svg
}

fn short(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.0}k", value / 1e3)
    } else if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// The three plots: throughput, latency and resources against offered load.
pub fn plots(report: &Report) -> [(&'static str, String); 3] {
    let over = |f: &dyn Fn(&Step) -> f64| {
        report.steps.iter().map(|s| (s.offered, f(s))).collect::<Vec<_>>()
    };
    [
        (
            "throughput.svg",
            chart(
                "Throughput vs offered load",
                "offered items/s",
                "items/s",
                &[
                    ("achieved", "#1f77b4", over(&|s| s.achieved)),
                    ("offered", "#999999", over(&|s| s.offered)),
                ],
            ),
        ),
        (
            "latency.svg",
            chart(
                "Request latency vs offered load",
                "offered items/s",
                "ms",
                &[
                    ("p50", "#2ca02c", over(&|s| s.latency_ms.p50)),
                    ("p99", "#d62728", over(&|s| s.latency_ms.p99)),
                ],
            ),
        ),
        (
            "resources.svg",
            chart(
                "CPU and memory vs offered load",
                "offered items/s",
                "cores ×100 / MiB",
                &[
                    ("cpu cores ×100", "#9467bd", over(&|s| s.cpu_cores * 100.0)),
                    ("RSS MiB", "#ff7f0e", over(&|s| s.rss_mib)),
                ],
            ),
        ),
    ]
}

/// Writes report.json, report.html and the plots into the report directory.
pub fn write(report: &Report) -> anyhow::Result<()> {
    let dir = &report.args.report;
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(report)?)?;
    let plots = plots(report);
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>weir bench</title><style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}</style></head><body>",
    );
    let _ = write!(
        html,
        "<h1>weir bench: {}</h1><pre>{}</pre>",
        escape(&report.args.config.display().to_string()),
        escape(&text(report))
    );
    for (name, svg) in &plots {
        std::fs::write(dir.join(name), svg)?;
        html.push_str(svg);
        html.push_str("<br>");
    }
    html.push_str("</body></html>");
    std::fs::write(dir.join("report.html"), html)?;
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
