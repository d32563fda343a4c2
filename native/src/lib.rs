//! driftline's native decoder: JSON lines in, columns out, under the one decoder contract
//! of `docs/events.md` — the Python decoder (`driftline.decode`) is its reference, and a
//! differential property test holds both to the same verdicts and values.
//!
//! The pure-Rust pieces (`json`, `canonical`, `timestamp`, `reader`) build and test without
//! Python (`cargo test`); the `python` feature adds the extension module (`py`), which
//! maturin builds (`native/pyproject.toml`).

pub mod canonical;
pub mod json;
pub mod reader;
pub mod timestamp;

#[cfg(feature = "python")]
mod py;
