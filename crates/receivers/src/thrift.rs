//! Reading Apache Thrift's binary and compact protocols from a byte slice, for the wire formats
//! that use them (Jaeger's). Every length is checked against the bytes left before anything is
//! allocated, nesting is bounded, and unknown fields are skipped, so no input can make a
//! reader allocate more than its input or recurse without end.

/// A Thrift type, as field headers and collections name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Stop,
    Bool,
    Byte,
    Double,
    I16,
    I32,
    I64,
    /// `string` and `binary`.
    Binary,
    Struct,
    Map,
    Set,
    List,
}

/// The two protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Binary,
    Compact,
}

/// How deep structs and collections may nest.
const MAX_DEPTH: usize = 64;

/// A reader over one message or struct.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    protocol: Protocol,
    /// Compact: the last field id of each struct being read (ids are sent as deltas).
    last_ids: Vec<i16>,
    /// Compact: a boolean field's value, carried in its header.
    pending_bool: Option<bool>,
}

pub(crate) type Result<T> = std::result::Result<T, String>;

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], protocol: Protocol) -> Reader<'a> {
        Reader { bytes, at: 0, protocol, last_ids: Vec::new(), pending_bool: None }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() - self.at < n {
            return Err(format!("truncated: {n} more bytes wanted at byte {}", self.at));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            if shift == 63 && byte > 1 {
                return Err("varint overflows 64 bits".into());
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn zigzag(&mut self) -> Result<i64> {
        let raw = self.varint()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    /// A message header: its method name (both protocols' strict forms, and binary's old
    /// unversioned one).
    pub(crate) fn message_begin(&mut self) -> Result<String> {
        match self.protocol {
            Protocol::Binary => {
                let first = i32::from_be_bytes(self.be()?);
                if first < 0 {
                    if (first as u32) & 0xffff_0000 != 0x8001_0000 {
                        return Err(format!("bad binary protocol version {first:#x}"));
                    }
                    let name = self.string()?;
                    self.be::<4>()?;
                    Ok(name)
                } else {
                    let name = String::from_utf8(self.take(first as usize)?.to_vec())
                        .map_err(|_| "method name is not UTF-8".to_owned())?;
                    self.byte()?;
                    self.be::<4>()?;
                    Ok(name)
                }
            }
            Protocol::Compact => {
                if self.byte()? != 0x82 {
                    return Err("not a compact protocol message (no 0x82 header)".into());
                }
                let version = self.byte()?;
                if version & 0x1f != 1 {
                    return Err(format!("compact protocol version {} is not 1", version & 0x1f));
                }
                self.varint()?;
                self.string()
            }
        }
    }

    /// Reads a struct: `field(reader, id, type)` for each field, which must read the value or
    /// [`Reader::skip`] it.
    pub(crate) fn read_struct(
        &mut self,
        mut field: impl FnMut(&mut Reader<'a>, i16, Type) -> Result<()>,
    ) -> Result<()> {
        if self.last_ids.len() >= MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        self.last_ids.push(0);
        loop {
            let (id, kind) = self.field_begin()?;
            if kind == Type::Stop {
                break;
            }
            field(self, id, kind)?;
        }
        self.last_ids.pop();
        Ok(())
    }

    fn field_begin(&mut self) -> Result<(i16, Type)> {
        match self.protocol {
            Protocol::Binary => {
                let kind = binary_type(self.byte()?)?;
                if kind == Type::Stop {
                    return Ok((0, Type::Stop));
                }
                Ok((i16::from_be_bytes(self.be()?), kind))
            }
            Protocol::Compact => {
                let header = self.byte()?;
                if header == 0 {
                    return Ok((0, Type::Stop));
                }
                let (kind, bool_value) = compact_type(header & 0x0f)?;
                self.pending_bool = bool_value;
                let delta = i16::from(header >> 4);
                let last = self.last_ids.last_mut().expect("inside a struct");
                let id = if delta == 0 {
                    i16::try_from(self.zigzag()?).map_err(|_| "field id out of range")?
                } else {
                    last.wrapping_add(delta)
                };
                let last = self.last_ids.last_mut().expect("inside a struct");
                *last = id;
                Ok((id, kind))
            }
        }
    }

    /// A list's (or set's) element type and length; the length is checked against the bytes
    /// left (every element takes at least one byte).
    pub(crate) fn list_begin(&mut self) -> Result<(Type, usize)> {
        let (kind, len) = match self.protocol {
            Protocol::Binary => {
                let kind = binary_type(self.byte()?)?;
                let len = i32::from_be_bytes(self.be()?);
                (kind, usize::try_from(len).map_err(|_| format!("negative list length {len}"))?)
            }
            Protocol::Compact => {
                let header = self.byte()?;
                let (kind, _) = compact_type(header & 0x0f)?;
                let short = usize::from(header >> 4);
                let len = if short == 15 {
                    usize::try_from(self.varint()?).map_err(|_| "list length overflows")?
                } else {
                    short
                };
                (kind, len)
            }
        };
        if len > self.bytes.len() - self.at {
            return Err(format!("list of {len} elements in {} bytes", self.bytes.len() - self.at));
        }
        Ok((kind, len))
    }

    pub(crate) fn bool(&mut self) -> Result<bool> {
        if let Some(value) = self.pending_bool.take() {
            return Ok(value);
        }
        Ok(match self.protocol {
            Protocol::Binary => self.byte()? != 0,
            Protocol::Compact => self.byte()? == 1,
        })
    }

    pub(crate) fn i16(&mut self) -> Result<i16> {
        match self.protocol {
            Protocol::Binary => Ok(i16::from_be_bytes(self.be()?)),
            Protocol::Compact => {
                i16::try_from(self.zigzag()?).map_err(|_| "i16 out of range".to_owned())
            }
        }
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        match self.protocol {
            Protocol::Binary => Ok(i32::from_be_bytes(self.be()?)),
            Protocol::Compact => {
                i32::try_from(self.zigzag()?).map_err(|_| "i32 out of range".to_owned())
            }
        }
    }

    pub(crate) fn i64(&mut self) -> Result<i64> {
        match self.protocol {
            Protocol::Binary => Ok(i64::from_be_bytes(self.be()?)),
            Protocol::Compact => self.zigzag(),
        }
    }

    pub(crate) fn double(&mut self) -> Result<f64> {
        match self.protocol {
            Protocol::Binary => Ok(f64::from_be_bytes(self.be()?)),
            Protocol::Compact => Ok(f64::from_le_bytes(self.be()?)),
        }
    }

    pub(crate) fn binary(&mut self) -> Result<&'a [u8]> {
        let len = match self.protocol {
            Protocol::Binary => {
                let len = i32::from_be_bytes(self.be()?);
                usize::try_from(len).map_err(|_| format!("negative length {len}"))?
            }
            Protocol::Compact => {
                usize::try_from(self.varint()?).map_err(|_| "length overflows".to_owned())?
            }
        };
        self.take(len)
    }

    pub(crate) fn string(&mut self) -> Result<String> {
        String::from_utf8(self.binary()?.to_vec()).map_err(|_| "a string is not UTF-8".to_owned())
    }

    /// Skips a value of `kind`.
    pub(crate) fn skip(&mut self, kind: Type) -> Result<()> {
        match kind {
            Type::Stop => Ok(()),
            Type::Bool => self.bool().map(drop),
            Type::Byte => self.byte().map(drop),
            Type::I16 => match self.protocol {
                Protocol::Binary => self.be::<2>().map(drop),
                Protocol::Compact => self.zigzag().map(drop),
            },
            Type::I32 => self.i32().map(drop),
            Type::I64 => self.i64().map(drop),
            Type::Double => self.double().map(drop),
            Type::Binary => self.binary().map(drop),
            Type::Struct => self.read_struct(|r, _, kind| r.skip(kind)),
            Type::List | Type::Set => {
                let (element, len) = self.list_begin()?;
                self.nested(|r| (0..len).try_for_each(|_| r.skip(element)))
            }
            Type::Map => {
                let (key, value, len) = match self.protocol {
                    Protocol::Binary => {
                        let key = binary_type(self.byte()?)?;
                        let value = binary_type(self.byte()?)?;
                        let len = i32::from_be_bytes(self.be()?);
                        (key, value, usize::try_from(len).map_err(|_| "negative map length")?)
                    }
                    Protocol::Compact => {
                        let len = usize::try_from(self.varint()?).map_err(|_| "map too long")?;
                        if len == 0 {
                            return Ok(());
                        }
                        let types = self.byte()?;
                        (compact_type(types >> 4)?.0, compact_type(types & 0x0f)?.0, len)
                    }
                };
                if len > self.bytes.len() - self.at {
                    return Err(format!("map of {len} entries in fewer bytes"));
                }
                self.nested(|r| {
                    (0..len).try_for_each(|_| {
                        r.skip(key)?;
                        r.skip(value)
                    })
                })
            }
        }
    }

    fn nested(&mut self, work: impl FnOnce(&mut Reader<'a>) -> Result<()>) -> Result<()> {
        if self.last_ids.len() >= MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        self.last_ids.push(0);
        let result = work(self);
        self.last_ids.pop();
        result
    }

    /// Reads a list of structs with `element`.
    pub(crate) fn list_of<T>(
        &mut self,
        mut element: impl FnMut(&mut Reader<'a>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let (kind, len) = self.list_begin()?;
        if kind != Type::Struct {
            return Err(format!("expected a list of structs, got {kind:?}"));
        }
        let mut out = Vec::with_capacity(len.min(1024));
        for _ in 0..len {
            out.push(element(self)?);
        }
        Ok(out)
    }
}

fn binary_type(id: u8) -> Result<Type> {
    Ok(match id {
        0 => Type::Stop,
        2 => Type::Bool,
        3 => Type::Byte,
        4 => Type::Double,
        6 => Type::I16,
        8 => Type::I32,
        10 => Type::I64,
        11 => Type::Binary,
        12 => Type::Struct,
        13 => Type::Map,
        14 => Type::Set,
        15 => Type::List,
        other => return Err(format!("unknown binary protocol type {other}")),
    })
}

/// A compact type id, and the value of a boolean field carried in it.
fn compact_type(id: u8) -> Result<(Type, Option<bool>)> {
    Ok(match id {
        0 => (Type::Stop, None),
        1 => (Type::Bool, Some(true)),
        2 => (Type::Bool, Some(false)),
        3 => (Type::Byte, None),
        4 => (Type::I16, None),
        5 => (Type::I32, None),
        6 => (Type::I64, None),
        7 => (Type::Double, None),
        8 => (Type::Binary, None),
        9 => (Type::List, None),
        10 => (Type::Set, None),
        11 => (Type::Map, None),
        12 => (Type::Struct, None),
        other => return Err(format!("unknown compact protocol type {other}")),
    })
}

/// Writing both protocols, for tests that make what clients send.
#[cfg(test)]
pub(crate) mod write {
    use super::Protocol;

    pub(crate) struct Writer {
        pub(crate) bytes: Vec<u8>,
        protocol: Protocol,
        last_ids: Vec<i16>,
    }

    fn zigzag(value: i64) -> u64 {
        ((value << 1) ^ (value >> 63)) as u64
    }

    impl Writer {
        pub(crate) fn new(protocol: Protocol) -> Writer {
            Writer { bytes: Vec::new(), protocol, last_ids: vec![0] }
        }

        fn varint(&mut self, mut value: u64) {
            loop {
                let byte = (value & 0x7f) as u8;
                value >>= 7;
                if value == 0 {
                    self.bytes.push(byte);
                    return;
                }
                self.bytes.push(byte | 0x80);
            }
        }

        /// `(binary id, compact id)` of the types used.
        fn ids(kind: &str) -> (u8, u8) {
            match kind {
                "bool" => (2, 1),
                "i16" => (6, 4),
                "double" => (4, 7),
                "i32" => (8, 5),
                "i64" => (10, 6),
                "binary" => (11, 8),
                "struct" => (12, 12),
                "list" => (15, 9),
                other => panic!("{other}"),
            }
        }

        pub(crate) fn message(&mut self, name: &str) {
            match self.protocol {
                Protocol::Binary => {
                    self.bytes.extend_from_slice(&(0x8001_0004u32 as i32).to_be_bytes());
                    self.string(name);
                    self.bytes.extend_from_slice(&0i32.to_be_bytes());
                }
                Protocol::Compact => {
                    self.bytes.extend_from_slice(&[0x82, 0x81]);
                    self.varint(0);
                    self.string(name);
                }
            }
        }

        /// A field header; for a compact boolean, `value` goes into it.
        pub(crate) fn field(&mut self, id: i16, kind: &str, value: Option<bool>) {
            let (binary, compact) = Self::ids(kind);
            match self.protocol {
                Protocol::Binary => {
                    self.bytes.push(binary);
                    self.bytes.extend_from_slice(&id.to_be_bytes());
                    if let Some(v) = value {
                        self.bytes.push(u8::from(v));
                    }
                }
                Protocol::Compact => {
                    let compact = match value {
                        Some(true) => 1,
                        Some(false) => 2,
                        None => compact,
                    };
                    let last = self.last_ids.last_mut().unwrap();
                    let delta = id - *last;
                    *last = id;
                    if (1..=15).contains(&delta) {
                        self.bytes.push(((delta as u8) << 4) | compact);
                    } else {
                        self.bytes.push(compact);
                        self.varint(zigzag(i64::from(id)));
                    }
                }
            }
        }

        pub(crate) fn struct_begin(&mut self) {
            self.last_ids.push(0);
        }

        pub(crate) fn stop(&mut self) {
            self.bytes.push(0);
            self.last_ids.pop();
        }

        pub(crate) fn list(&mut self, kind: &str, len: usize) {
            let (binary, compact) = Self::ids(kind);
            match self.protocol {
                Protocol::Binary => {
                    self.bytes.push(binary);
                    self.bytes.extend_from_slice(&(len as i32).to_be_bytes());
                }
                Protocol::Compact if len < 15 => self.bytes.push(((len as u8) << 4) | compact),
                Protocol::Compact => {
                    self.bytes.push(0xf0 | compact);
                    self.varint(len as u64);
                }
            }
        }

        pub(crate) fn i16(&mut self, value: i16) {
            match self.protocol {
                Protocol::Binary => self.bytes.extend_from_slice(&value.to_be_bytes()),
                Protocol::Compact => self.varint(zigzag(i64::from(value))),
            }
        }

        pub(crate) fn binary(&mut self, value: &[u8]) {
            match self.protocol {
                Protocol::Binary => {
                    self.bytes.extend_from_slice(&(value.len() as i32).to_be_bytes())
                }
                Protocol::Compact => self.varint(value.len() as u64),
            }
            self.bytes.extend_from_slice(value);
        }

        pub(crate) fn i32(&mut self, value: i32) {
            match self.protocol {
                Protocol::Binary => self.bytes.extend_from_slice(&value.to_be_bytes()),
                Protocol::Compact => self.varint(zigzag(i64::from(value))),
            }
        }

        pub(crate) fn i64(&mut self, value: i64) {
            match self.protocol {
                Protocol::Binary => self.bytes.extend_from_slice(&value.to_be_bytes()),
                Protocol::Compact => self.varint(zigzag(value)),
            }
        }

        pub(crate) fn double(&mut self, value: f64) {
            match self.protocol {
                Protocol::Binary => self.bytes.extend_from_slice(&value.to_be_bytes()),
                Protocol::Compact => self.bytes.extend_from_slice(&value.to_le_bytes()),
            }
        }

        pub(crate) fn string(&mut self, value: &str) {
            match self.protocol {
                Protocol::Binary => {
                    self.bytes.extend_from_slice(&(value.len() as i32).to_be_bytes())
                }
                Protocol::Compact => self.varint(value.len() as u64),
            }
            self.bytes.extend_from_slice(value.as_bytes());
        }
    }
}
