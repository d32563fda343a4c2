//! Times `Reader::decode` on a file of JSON lines: `cargo run --release --example bench FILE`.
//! (For profiling the native reader without Python; not part of the extension.)

use std::time::Instant;

use driftline_native::reader::{Reader, Spec};

fn main() {
    let path = std::env::args().nth(1).expect("a JSON-lines file");
    let data = std::fs::read(&path).expect("readable");
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let spec = Spec {
        fields: Spec::top_level_fields(),
        numeric: (0..10).map(|k| format!("f{k}")).collect(),
        categorical: vec!["cat_a".into(), "cat_b".into()],
        segments: vec!["region".into(), "tier".into()],
        labels: false,
        label_columns: false,
        model_id: None,
        floor: 946_684_800.0,
        max_message_bytes: 65536,
    };
    let reader = Reader::new(spec).expect("a reader");
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let start = Instant::now();
    let mut kept = 0;
    for _ in 0..rounds {
        for batch in lines.chunks(10_000) {
            kept += reader.decode(batch).rows.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = (lines.len() * rounds) as f64;
    println!(
        "{} lines, {kept} kept: {:.0} ns/line, {:.0} MB/s",
        lines.len(),
        secs / n * 1e9,
        (data.len() * rounds) as f64 / secs / 1e6
    );
}
