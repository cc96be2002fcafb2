"""cargo-chefpy: cache Rust workspace builds in Docker, stubbing only the crate you edit."""

__version__ = "0.1.0"
