//! serviceX: a binary of the seed workspace.
#![allow(non_snake_case)]

/// Printed first; tests edit this literal.
const MESSAGE: &str = "serviceX says hello";

fn line() -> String {
    format!(
        "serviceX {}: {}; a={} sum={}",
        env!("CARGO_PKG_VERSION"),
        MESSAGE,
        libA::describe(),
        libA::add(40, 2),
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
        assert!(line.contains("sum=42"));
    }
}
