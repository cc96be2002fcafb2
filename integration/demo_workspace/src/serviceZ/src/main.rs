//! serviceZ: a binary of the seed workspace.
#![allow(non_snake_case)]

/// Serialized with the vendored fake-json (which depends on fake-serde).
fn scores() -> String {
    fake_json::object(&[("b", libB::score(&["serviceZ", MESSAGE])), ("len", MESSAGE.len() as u64)])
}

/// Printed first; tests edit this literal.
const MESSAGE: &str = "serviceZ says hello";

fn line() -> String {
    format!(
        "serviceZ {}: {}; b={} c={} json={} patched={}",
        env!("CARGO_PKG_VERSION"),
        MESSAGE,
        libB::summary(),
        libC::summary(),
        scores(),
        fake_patched::describe(),
    )
}

fn main() {
    println!("{}", line());
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_starts_with_the_message() {
        let line = super::line();
        assert!(line.contains(super::MESSAGE));
        assert!(line.contains("patched="));
    }
}
