//! libC: a library on libA and the vendored fake-serde.
#![allow(non_snake_case)]

use fake_serde::Serialize;

/// Printed by serviceZ; tests edit this literal.
pub const GREETING: &str = "libC v1";

/// libC's greeting followed by libA's.
pub fn greet() -> String {
    format!("{} + {}", GREETING, libA::GREETING)
}

/// A value serialized with fake-serde, tagged with the backend its build script chose.
pub fn encode(value: u64) -> String {
    format!("{}:{}", fake_serde::BACKEND, value.serialize())
}

/// What serviceZ prints for libC.
pub fn summary() -> String {
    format!("{} [{}]", greet(), encode(libA::checksum(GREETING) % 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_uses_the_build_script_cfg() {
        assert_eq!(encode(7), "fast:7");
        assert!(summary().starts_with("libC"));
    }
}
