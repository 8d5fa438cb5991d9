//! What the peer channels carry (the `fanout` and `async_fanout` groups):
//! 64 bytes by value when events are small, one shared `Arc<[u8]>` filled in
//! place above.

use super::fill;
use std::sync::Arc;

/// What a channel carries.
pub trait Msg: Clone + Send + Sync + 'static {
    fn make(seq: u64, len: usize) -> Self;
    fn bytes(&self) -> &[u8];
}

/// 64 bytes by value: what a user sends through a broadcast channel when
/// events are small.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Inline64(pub [u8; 64]);

impl Msg for Inline64 {
    #[inline]
    fn make(seq: u64, _len: usize) -> Self {
        let mut m = Inline64([0; 64]);
        fill(seq, &mut m.0);
        m
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Msg for Arc<[u8]> {
    /// One allocation, filled in place: the zero-copy way to share bytes
    /// through a channel.
    #[inline]
    fn make(seq: u64, len: usize) -> Self {
        let mut arc: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
        fill(seq, Arc::get_mut(&mut arc).expect("a new Arc is unique"));
        arc
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        self
    }
}
