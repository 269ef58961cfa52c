//! Prometheus' text exposition format (0.0.4) and OpenMetrics (1.0): the families of a scraped
//! page, with their types, help, units and samples. A line that breaks the format fails the
//! page with its line number, as Prometheus fails the scrape.

/// A family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Untyped,
}

impl Type {
    fn parse(text: &str) -> Option<Type> {
        Some(match text {
            "counter" => Type::Counter,
            "gauge" => Type::Gauge,
            "histogram" => Type::Histogram,
            "gaugehistogram" => Type::GaugeHistogram,
            "summary" => Type::Summary,
            "info" => Type::Info,
            "stateset" => Type::StateSet,
            "untyped" | "unknown" => Type::Untyped,
            _ => return None,
        })
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// The sample's own name (`x_bucket`, `x_total`, ...).
    pub(crate) name: String,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: f64,
    /// Milliseconds since the epoch, when the page gives one.
    pub(crate) timestamp_ms: Option<i64>,
}

/// A metric family: the samples under one `# TYPE`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    pub(crate) name: String,
    pub(crate) kind: Type,
    pub(crate) help: String,
    pub(crate) unit: String,
    pub(crate) samples: Vec<Sample>,
}

/// The suffixes a family's samples may carry, by type.
fn suffixes(kind: Type) -> &'static [&'static str] {
    match kind {
        Type::Counter => &["_total", "_created"],
        Type::Histogram => &["_bucket", "_sum", "_count", "_created"],
        Type::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
        Type::Summary => &["_sum", "_count", "_created"],
        Type::Info => &["_info"],
        _ => &[],
    }
}

/// Parses a page. `openmetrics` selects OpenMetrics' rules (timestamps in seconds, `# EOF`).
pub(crate) fn parse(text: &str, openmetrics: bool) -> Result<Vec<Family>, String> {
    let mut families: Vec<Family> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", number + 1);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            if comment == "EOF" {
                break;
            }
            let mut words = comment.splitn(3, ' ');
            let (keyword, name, rest) = (words.next(), words.next(), words.next().unwrap_or(""));
            let (Some(keyword), Some(name)) = (keyword, name) else { continue };
            match keyword {
                "TYPE" => {
                    let kind = Type::parse(rest.trim())
                        .ok_or_else(|| at(format!("unknown type {:?} of {name}", rest.trim())))?;
                    family(&mut families, name).kind = kind;
                }
                "HELP" => family(&mut families, name).help = unescape_help(rest),
                "UNIT" => family(&mut families, name).unit = rest.trim().to_owned(),
                _ => {}
            }
            continue;
        }
        let sample = sample(line, openmetrics).map_err(at)?;
        let owner = families
            .iter()
            .rposition(|f| {
                sample.name == f.name
                    || suffixes(f.kind)
                        .iter()
                        .any(|s| sample.name.strip_suffix(s) == Some(f.name.as_str()))
            })
            .unwrap_or_else(|| {
                families.push(Family {
                    name: sample.name.clone(),
                    kind: Type::Untyped,
                    help: String::new(),
                    unit: String::new(),
                    samples: Vec::new(),
                });
                families.len() - 1
            });
        families[owner].samples.push(sample);
    }
    Ok(families)
}

fn family<'a>(families: &'a mut Vec<Family>, name: &str) -> &'a mut Family {
    match families.iter().position(|f| f.name == name) {
        Some(i) => &mut families[i],
        None => {
            families.push(Family {
                name: name.to_owned(),
                kind: Type::Untyped,
                help: String::new(),
                unit: String::new(),
                samples: Vec::new(),
            });
            families.last_mut().expect("pushed")
        }
    }
}

fn unescape_help(text: &str) -> String {
    text.replace("\\n", "\n").replace("\\\\", "\\")
}

fn sample(line: &str, openmetrics: bool) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || !valid_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = label_set(inner)?;
        labels = parsed;
        rest = after;
    }
    // an OpenMetrics exemplar follows " # "
    if let Some(i) = rest.find(" # ") {
        rest = &rest[..i];
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or_else(|| format!("{name}: no value"))?;
    let value = parse_value(value).ok_or_else(|| format!("{name}: invalid value {value:?}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(ts) if openmetrics => {
            let seconds: f64 =
                ts.parse().map_err(|_| format!("{name}: invalid timestamp {ts:?}"))?;
            Some((seconds * 1000.0).round() as i64)
        }
        Some(ts) => Some(ts.parse().map_err(|_| format!("{name}: invalid timestamp {ts:?}"))?),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("{name}: unexpected {extra:?} after the timestamp"));
    }
    Ok(Sample { name: name.to_owned(), labels, value, timestamp_ms })
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// Labels as parsed, in order.
type Labels = Vec<(String, String)>;

/// `name="value",...}` → the labels and what follows the `}`.
fn label_set(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = text.find('=').ok_or("a label without =")?;
        let name = text[..eq].trim();
        if !valid_name(name) || name.contains(':') {
            return Err(format!("invalid label name {name:?}"));
        }
        let rest = text[eq + 1..].trim_start();
        let rest =
            rest.strip_prefix('"').ok_or_else(|| format!("label {name}: value not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label {name}: unterminated value")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("label {name}: unterminated value")),
            }
        };
        labels.push((name.to_owned(), value));
        text = rest[end + 1..].trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}
