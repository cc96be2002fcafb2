//! serviceY: a binary of the seed workspace.
#![allow(non_snake_case)]

#[derive(fake_derive::Describe)]
struct Config;

/// Printed first; tests edit this literal.
const MESSAGE: &str = "serviceY says hello";

fn line() -> String {
    format!(
        "serviceY {}: {}; a={} derive={} answer={}",
        env!("CARGO_PKG_VERSION"),
        MESSAGE,
        libA::GREETING,
        Config.describe(),
        fake_derive::fake_answer!(),
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
        assert!(line.contains("answer=42"));
    }
}
