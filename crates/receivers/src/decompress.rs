//! Size-capped decompression of request bodies.
//!
//! A request is decompressed into memory up to `limit` bytes; one byte more and decoding stops
//! with [`DecompressError::TooLarge`], so a decompression bomb costs at most `limit` bytes.

use std::io::Read;

/// Why a body could not be decompressed.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    /// The body decompresses to more than the limit.
    #[error("request body exceeds {limit} bytes after decompression")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The encoding is not one weir reads.
    #[error("unsupported Content-Encoding \"{0}\": expected gzip, zstd, deflate or identity")]
    Unsupported(String),
    /// The body is not valid in its encoding.
    #[error("invalid {encoding} body: {source}")]
    Corrupt {
        /// The content encoding.
        encoding: &'static str,
        /// What the decoder reported.
        source: std::io::Error,
    },
}

/// A body's content encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// zlib-wrapped deflate (RFC 1950), as HTTP's `deflate` means.
    Deflate,
    /// Zstandard.
    Zstd,
}

impl Encoding {
    /// Parses a `Content-Encoding` header value (absent means identity).
    pub fn parse(header: Option<&str>) -> Result<Encoding, DecompressError> {
        let Some(value) = header.map(str::trim) else { return Ok(Encoding::Identity) };
        match value.to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" | "zlib" => Ok(Encoding::Deflate),
            "zstd" => Ok(Encoding::Zstd),
            _ => Err(DecompressError::Unsupported(value.to_owned())),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            Encoding::Zstd => "zstd",
        }
    }
}

/// Decompresses `body` into at most `limit` bytes.
// The one place allowed to build decompressors: the output is capped below.
#[allow(clippy::disallowed_methods)]
pub fn decompress(
    encoding: Encoding,
    body: bytes::Bytes,
    limit: usize,
) -> Result<bytes::Bytes, DecompressError> {
    // the one place decoders are built: everything below reads at most `limit` bytes out
    #[allow(clippy::disallowed_types)]
    let reader: Box<dyn Read + '_> = match encoding {
        Encoding::Identity => {
            if body.len() > limit {
                return Err(DecompressError::TooLarge { limit });
            }
            return Ok(body);
        }
        Encoding::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(&body[..])),
        Encoding::Deflate => Box::new(flate2::bufread::ZlibDecoder::new(&body[..])),
        Encoding::Zstd => {
            let corrupt = |source| DecompressError::Corrupt { encoding: "zstd", source };
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(&body[..]).map_err(corrupt)?;
            // A frame may ask for a window of up to 2 GiB, allocated before any output: allow
            // no larger a window than the output may be, but at least the 8 MiB every zstd
            // decoder is expected to accept.
            let window_log = (usize::BITS - limit.max(1).leading_zeros()).clamp(23, 27);
            decoder.window_log_max(window_log).map_err(corrupt)?;
            Box::new(decoder)
        }
    };
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    let mut out = Vec::with_capacity((body.len() * 4).min(limit) + 1);
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|source| DecompressError::Corrupt { encoding: encoding.name(), source })?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> bytes::Bytes {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap().into()
    }

    #[test]
    fn every_encoding_round_trips() {
        let data = b"hello weir ".repeat(100);
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&data).unwrap();
        let zstd = zstd::encode_all(&data[..], 3).unwrap();
        for (encoding, body) in [
            (Encoding::Identity, bytes::Bytes::from(data.clone())),
            (Encoding::Gzip, gzip(&data)),
            (Encoding::Deflate, zlib.finish().unwrap().into()),
            (Encoding::Zstd, zstd.into()),
        ] {
            assert_eq!(decompress(encoding, body, data.len()).unwrap(), data, "{encoding:?}");
        }
    }

    #[test]
    fn a_zstd_frame_asking_for_a_huge_window_is_refused_before_allocating_it() {
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
        encoder.set_parameter(zstd::stream::raw::CParameter::WindowLog(27)).unwrap();
        encoder.write_all(&[1; 1024]).unwrap();
        let frame = encoder.finish().unwrap();
        let err = decompress(Encoding::Zstd, frame.into(), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("zstd"), "{err}");
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        let err = decompress(Encoding::Gzip, bomb, 1 << 20).unwrap_err();
        assert!(matches!(err, DecompressError::TooLarge { limit } if limit == 1 << 20), "{err}");
    }

    #[test]
    fn plain_bodies_over_the_limit_are_refused() {
        let err = decompress(Encoding::Identity, vec![1; 11].into(), 10).unwrap_err();
        assert_eq!(err.to_string(), "request body exceeds 10 bytes after decompression");
    }

    #[test]
    fn corrupt_and_unknown_encodings_are_named() {
        let err = decompress(Encoding::Gzip, b"not gzip".to_vec().into(), 100).unwrap_err();
        assert!(err.to_string().starts_with("invalid gzip body: "), "{err}");
        let err = Encoding::parse(Some("br")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported Content-Encoding \"br\": expected gzip, zstd, deflate or identity"
        );
        assert_eq!(Encoding::parse(Some("GZIP")).unwrap(), Encoding::Gzip);
        assert_eq!(Encoding::parse(None).unwrap(), Encoding::Identity);
    }
}
