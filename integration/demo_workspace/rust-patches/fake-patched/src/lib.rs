//! fake-patched 0.5.0: a crates.io crate replaced by a local copy through [patch.crates-io].

/// Printed by serviceZ; tests edit this literal.
pub const GREETING: &str = "fake-patched v1 (local patch)";

pub fn describe() -> &'static str {
    GREETING
}
