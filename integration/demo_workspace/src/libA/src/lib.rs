//! libA: the base library of the seed workspace.
#![allow(non_snake_case)]

/// Printed by the services (directly or through libB and libC); tests edit this literal.
pub const GREETING: &str = "libA v1";

/// Adds two numbers without overflowing.
pub fn add(left: u64, right: u64) -> u64 {
    left.wrapping_add(right)
}

/// A small deterministic checksum of a string (a stand-in for real work).
pub fn checksum(text: &str) -> u64 {
    text.bytes()
        .fold(17_u64, |acc, byte| acc.wrapping_mul(31).wrapping_add(u64::from(byte)))
}

/// The page size reported by the vendored fake-libc (a `cfg(unix)` dependency).
#[cfg(unix)]
pub fn page_size() -> usize {
    fake_libc::page_size()
}

/// There is no fake-libc off unix.
#[cfg(not(unix))]
pub fn page_size() -> usize {
    0
}

/// One line that describes libA and its vendored dependencies.
pub fn describe() -> String {
    format!("{} (log={}, page={})", GREETING, fake_log::level(), page_size())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_checksum() {
        assert_eq!(add(40, 2), 42);
        assert_eq!(checksum(""), 17);
        assert_ne!(checksum("a"), checksum("b"));
    }

    #[test]
    fn describe_uses_vendored_crates() {
        assert!(describe().starts_with(GREETING));
        assert_eq!(fake_log::level(), "info");
    }
}
