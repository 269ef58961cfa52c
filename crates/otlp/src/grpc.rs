//! OTLP/gRPC with the request kept as bytes: a tonic codec that passes protobuf bytes
//! through unchanged, both ways. Receivers walk the bytes (see [`crate::wire`]) instead of
//! decoding them; exporters send what a batch encodes to.

use bytes::{Buf, BufMut, Bytes};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// Passes already-encoded protobuf bytes through tonic. Decoding takes the message out of
/// tonic's receive buffer without a copy; encoding writes a message's pieces (see
/// [`crate::Batch::encode_protobuf_chunks`]) into tonic's buffer one after the other.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<Bytes>;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<Bytes>;
    type Error = Status;

    fn encode(&mut self, item: Vec<Bytes>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(item.iter().map(Bytes::len).sum());
        item.into_iter().for_each(|chunk| dst.put(chunk));
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
