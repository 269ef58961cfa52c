//! Acknowledgements that wait for durability.
//!
//! A receiver whose data reaches an exporter with a persistent queue answers the client only
//! once every copy of the request is on disk there: it attaches an [`Ack`] to the message
//! and waits. Every batch cut from the request carries a clone (processors' pushes inherit
//! it; `batch` carries the acks of everything it merged); a persistent queue drops its clone
//! after the record is written (or calls [`Ack::fail`] first when it refused the record);
//! anything else that consumes a batch simply drops it. When the last clone is gone the
//! receiver learns whether every copy was kept.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use tokio::sync::oneshot;

/// The acknowledgement tokens a batch carries: none (the usual case, no allocation) or the
/// tokens of the requests it came from.
#[derive(Debug, Clone, Default)]
pub struct Ack(Vec<Arc<Token>>);

#[derive(Debug)]
struct Token {
    failed: AtomicBool,
    done: Mutex<Option<oneshot::Sender<bool>>>,
}

impl Drop for Token {
    fn drop(&mut self) {
        let done = self.done.get_mut().map(Option::take).unwrap_or_default();
        if let Some(done) = done {
            let _ = done.send(!self.failed.load(Ordering::Acquire));
        }
    }
}

/// What a receiver waits on: `true` once every copy was kept, `false` if one was refused.
pub type AckWait = oneshot::Receiver<bool>;

impl Ack {
    /// A new token and what resolves when its last clone is dropped.
    pub fn new() -> (Ack, AckWait) {
        let (done, wait) = oneshot::channel();
        let token = Token { failed: AtomicBool::new(false), done: Mutex::new(Some(done)) };
        (Ack(vec![Arc::new(token)]), wait)
    }

    /// Whether the batch carries no token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Marks every request this batch came from as not kept.
    pub fn fail(&self) {
        self.0.iter().for_each(|token| token.failed.store(true, Ordering::Release));
    }

    /// Adds the tokens of `other` (a batch merged into this one).
    pub fn merge(&mut self, other: &Ack) {
        for token in &other.0 {
            if !self.0.iter().any(|t| Arc::ptr_eq(t, token)) {
                self.0.push(token.clone());
            }
        }
    }

    /// Takes the tokens, leaving none.
    pub fn take(&mut self) -> Ack {
        Ack(std::mem::take(&mut self.0))
    }
}

/// Tokens compare equal whatever they are: an acknowledgement is not part of a batch's value.
impl PartialEq for Ack {
    fn eq(&self, _: &Ack) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_when_the_last_clone_goes() {
        let (ack, mut wait) = Ack::new();
        let copy = ack.clone();
        drop(ack);
        assert!(wait.try_recv().is_err(), "a copy is still held");
        drop(copy);
        assert_eq!(wait.try_recv(), Ok(true));
    }

    #[test]
    fn one_refused_copy_fails_the_request() {
        let (ack, mut wait) = Ack::new();
        let (other, mut other_wait) = Ack::new();
        let mut merged = Ack::default();
        merged.merge(&ack);
        merged.merge(&other);
        merged.merge(&ack);
        assert_eq!(merged.0.len(), 2, "each request once");
        let kept = ack.clone();
        drop((ack, other));
        merged.fail();
        drop(merged);
        assert!(wait.try_recv().is_err());
        drop(kept);
        assert_eq!(wait.try_recv(), Ok(false));
        assert_eq!(other_wait.try_recv(), Ok(false));
    }
}
