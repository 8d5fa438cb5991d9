//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

#[path = "../../examples/common/pattern.rs"]
pub mod pattern;

use slotcast::{Backing, Builder, Runtime};

/// Scale for Miri, which runs these tests some thousand times slower.
pub fn scaled(n: u64, under_miri: u64) -> u64 {
    if cfg!(miri) { under_miri } else { n }
}

/// A builder on the given backing.
pub fn builder(backing: Backing) -> Builder {
    Runtime::builder().backing(backing)
}

/// Instantiates a test body `fn(Backing)` once per in-process backing.
/// Miri cannot map memory, so it runs the heap instance only; an entry with
/// `miri: "reason"` is skipped under Miri altogether.
#[macro_export]
macro_rules! every_backing {
    ($($name:ident => $body:path $(, miri: $why:literal)?;)*) => {$(
        mod $name {
            #[test]
            $(#[cfg_attr(miri, ignore = $why)])?
            fn heap() {
                $body(slotcast::Backing::Heap)
            }

            #[test]
            #[cfg_attr(miri, ignore = "Miri cannot map memory")]
            fn anonymous() {
                $body(slotcast::Backing::Anonymous)
            }
        }
    )*};
}
