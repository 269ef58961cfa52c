//! Zipkin's span model as both API versions and both encodings decode into it, before it
//! becomes OTLP (`translate.rs`).

/// A span as Zipkin sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Span {
    pub(crate) trace_id: [u8; 16],
    pub(crate) id: [u8; 8],
    pub(crate) parent_id: Option<[u8; 8]>,
    pub(crate) name: String,
    pub(crate) kind: Option<Kind>,
    /// Epoch microseconds; absent when the client did not know.
    pub(crate) timestamp: Option<u64>,
    /// Microseconds.
    pub(crate) duration: u64,
    pub(crate) local: Option<Endpoint>,
    pub(crate) remote: Option<Endpoint>,
    /// `(epoch microseconds, value)`.
    pub(crate) annotations: Vec<(u64, String)>,
    pub(crate) tags: Vec<(String, String)>,
}

/// `CLIENT`, `SERVER`, `PRODUCER`, `CONSUMER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Client,
    Server,
    Producer,
    Consumer,
}

impl Kind {
    pub(crate) fn parse(text: &str) -> Option<Kind> {
        match text {
            "CLIENT" => Some(Kind::Client),
            "SERVER" => Some(Kind::Server),
            "PRODUCER" => Some(Kind::Producer),
            "CONSUMER" => Some(Kind::Consumer),
            _ => None,
        }
    }
}

/// A network endpoint: the service and where it was.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Endpoint {
    pub(crate) service_name: Option<String>,
    /// The IPv6 address when there is one, else the IPv4 one.
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
}

impl Endpoint {
    /// `None` for an endpoint that says nothing.
    pub(crate) fn or_none(self) -> Option<Endpoint> {
        (self.service_name.is_some() || self.address.is_some() || self.port.is_some())
            .then_some(self)
    }
}

/// A trace id of up to 32 hex digits, left-padded to 16 bytes (64-bit ids are common).
pub(crate) fn trace_id(hex: &str) -> Result<[u8; 16], String> {
    if hex.is_empty() || hex.len() > 32 {
        return Err(format!("traceId {hex:?}: expected 1 to 32 hex digits"));
    }
    let value = u128::from_str_radix(hex, 16)
        .map_err(|_| format!("traceId {hex:?}: expected hex digits"))?;
    if value == 0 {
        return Err("traceId is zero".into());
    }
    Ok(value.to_be_bytes())
}

/// A span id of up to 16 hex digits, not zero.
pub(crate) fn span_id(field: &str, hex: &str) -> Result<[u8; 8], String> {
    if hex.is_empty() || hex.len() > 16 {
        return Err(format!("{field} {hex:?}: expected 1 to 16 hex digits"));
    }
    let value = u64::from_str_radix(hex, 16)
        .map_err(|_| format!("{field} {hex:?}: expected hex digits"))?;
    if value == 0 {
        return Err(format!("{field} is zero"));
    }
    Ok(value.to_be_bytes())
}
