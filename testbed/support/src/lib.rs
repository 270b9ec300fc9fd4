//! Helpers for sigloop's own tests and benchmarks, kept out of the libraries:
//! - [`data`]: test patterns and checksums;
//! - [`recorder`]: what a socket emitted and received, for assertions;
//! - `bed` (feature `bluetooth`): the controllers and hosts of the project's BlueZ test
//!   bed (`testbed/run`), which a test marked `#[ignore = "needs the BlueZ test bed"]`
//!   uses when `scripts/test-bluetooth` runs it inside the bed with `--ignored`.
#![warn(missing_docs, missing_debug_implementations)]

#[cfg(feature = "bluetooth")]
pub mod bed;
pub mod data;
pub mod recorder;

#[cfg(feature = "bluetooth")]
pub use bed::{FailTogether, HeldLink, Testbed};
pub use data::{checksum, pattern};
pub use recorder::{collect, record, send};
