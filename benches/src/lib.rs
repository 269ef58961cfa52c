//! Shared inputs of weir's benchmarks: telemetry of two shapes, built with `weir loadgen`'s
//! generator so benchmarks and load tests send the same thing.

use weir::loadgen::shape::{Generator, Shape};
use weir_otlp::{Batch, Signal};

/// A named shape.
#[derive(Debug, Clone, Copy)]
pub enum Size {
    /// Two short attributes, no event.
    Small,
    /// Ten attributes of 36 bytes and one event: about 600 bytes per span encoded.
    Realistic,
}

impl Size {
    /// Both shapes.
    pub const ALL: [Size; 2] = [Size::Small, Size::Realistic];

    /// The name used in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Realistic => "realistic",
        }
    }

    fn shape(self) -> Shape {
        match self {
            Size::Small => {
                Shape { attributes: 2, attribute_size: 8, events: 0, ..Shape::default() }
            }
            Size::Realistic => {
                Shape { attributes: 10, attribute_size: 36, events: 1, ..Shape::default() }
            }
        }
    }
}

/// A batch of `n` items of `signal` in shape `size`.
pub fn batch(signal: Signal, size: Size, n: usize) -> Batch {
    Generator::new(size.shape(), 1).next(signal, n)
}

/// A well-mixed 64-bit hash of `i` (splitmix64's finaliser): distinct inputs for sketches.
pub fn hash(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
