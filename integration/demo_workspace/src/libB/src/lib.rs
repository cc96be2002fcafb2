//! libB: a library on top of libA.
#![allow(non_snake_case)]

/// Printed by serviceZ; tests edit this literal.
pub const GREETING: &str = "libB v1";

/// libB's greeting followed by libA's.
pub fn greet() -> String {
    format!("{} + {}", GREETING, libA::GREETING)
}

/// Sums the checksums of some words (mod 1000 each), with libA's arithmetic.
pub fn score(words: &[&str]) -> u64 {
    words
        .iter()
        .map(|word| libA::checksum(word) % 1000)
        .fold(0, libA::add)
}

/// What serviceZ prints for libB.
pub fn summary() -> String {
    greet()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greet_mentions_both_libraries() {
        assert_eq!(greet(), format!("{} + {}", GREETING, libA::GREETING));
        assert_eq!(score(&[]), 0);
        assert!(summary().starts_with("libB"));
    }
}
