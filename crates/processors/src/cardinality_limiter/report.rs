//! Demand reporting with HyperLogLog sketches: how many distinct series a metric was offered
//! beyond its budget, and which of its labels explode. Sketches never decide admission (an
//! exact set does); they are created only when a metric nears its budget, and rotate every
//! reporting window, an estimate reading the current and the previous window.

use cardinality_estimator::CardinalityEstimator;

/// The sketch type: precision 12 (4,096 registers, σ = 1.04/√4096 = 1.6 %), 6-bit registers.
pub(crate) type Sketch = CardinalityEstimator<u64>;

/// The relative standard error of [`Sketch`].
pub const SIGMA: f64 = 1.04 / 64.0;

/// Label keys with a sketch, per metric: a point with many distinct keys cannot make the
/// reporting itself explode.
const MAX_LABEL_KEYS: usize = 32;

/// A current and a previous window of one sketch.
#[derive(Debug, Default)]
struct Windows {
    current: Sketch,
    previous: Sketch,
}

impl Windows {
    fn estimate(&self) -> u64 {
        let mut union = self.current.clone();
        union.merge(&self.previous);
        union.estimate() as u64
    }

    fn rotate(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }

    fn bytes(&self) -> usize {
        self.current.size_of() + self.previous.size_of()
    }
}

/// The sketches of one metric.
#[derive(Debug, Default)]
pub(crate) struct Sketches {
    rejected: Windows,
    labels: Vec<(String, Windows)>,
}

impl Sketches {
    /// Records a point of a series that was not admitted: its series hash and the hashes of
    /// its attributes (key and value).
    pub(crate) fn reject<'a>(
        &mut self,
        series: u64,
        attributes: impl Iterator<Item = (&'a str, u64)>,
    ) {
        self.rejected.current.insert_hash(series);
        for (key, hash) in attributes {
            let index = match self.labels.iter().position(|(k, _)| k == key) {
                Some(index) => index,
                None if self.labels.len() < MAX_LABEL_KEYS => {
                    self.labels.push((key.to_owned(), Windows::default()));
                    self.labels.len() - 1
                }
                None => continue,
            };
            self.labels[index].1.current.insert_hash(hash);
        }
    }

    /// Distinct rejected series over the last one to two windows.
    pub(crate) fn rejected(&self) -> u64 {
        self.rejected.estimate()
    }

    /// Label keys by distinct values among rejected series, most first, at most `k`.
    pub(crate) fn top_labels(&self, k: usize) -> Vec<(String, u64)> {
        let mut labels: Vec<(String, u64)> =
            self.labels.iter().map(|(key, w)| (key.clone(), w.estimate())).collect();
        labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        labels.truncate(k);
        labels
    }

    /// Starts a new window.
    pub(crate) fn rotate(&mut self) {
        self.rejected.rotate();
        self.labels.iter_mut().for_each(|(_, w)| w.rotate());
    }

    /// Heap and inline bytes of every sketch.
    pub(crate) fn bytes(&self) -> usize {
        self.rejected.bytes()
            + self.labels.iter().map(|(k, w)| k.capacity() + w.bytes()).sum::<usize>()
    }
}
