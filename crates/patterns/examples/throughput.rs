//! Measures how many messages per second one miner takes on one core.
//!
//! ```text
//! cargo run --release -p trawl-patterns --example throughput [-- MESSAGES [typical|long|novel]]
//! ```
//!
//! - `typical` (default): the labelled corpus (`tests/corpus`), fresh values on every line;
//! - `long`: corpus lines with 40 more `key=value` words and a 2 KiB base64 blob, ~3 KiB each;
//! - `novel`: random words from a 5,000-word vocabulary, so nearly every line is a new shape
//!   and takes the slow path (the worst case for the shape memo).
//!
//! Lines are generated before the clock starts; the figure is mining only (tokenising, masking,
//! matching), as the ingest path would call it. Best of three runs.

#[path = "../tests/corpus/mod.rs"]
mod corpus;

use std::time::Instant;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let kind = std::env::args().nth(2).unwrap_or_else(|| "typical".to_string());
    let lines = generate(&kind, n);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut best = f64::MAX;
    let mut patterns = 0;
    for _ in 0..3 {
        let mut miner = trawl_patterns::Miner::default();
        let start = Instant::now();
        for line in &lines {
            std::hint::black_box(miner.add(line));
        }
        best = best.min(start.elapsed().as_secs_f64());
        patterns = miner.len();
    }
    println!(
        "{kind}: {n} messages ({:.1} MB, {:.0} bytes each) in {:.3} s: {:.0} messages/s, {:.0} MB/s, {patterns} patterns",
        bytes as f64 / 1e6,
        bytes as f64 / n as f64,
        best,
        n as f64 / best,
        bytes as f64 / 1e6 / best
    );
}

fn generate(kind: &str, n: usize) -> Vec<String> {
    let mut rng = corpus::Rng::new(11);
    let typical = || corpus::generate(7, n).into_iter().map(|l| l.text);
    match kind {
        "long" => typical()
            .map(|mut line| {
                for i in 0..40 {
                    line.push_str(&format!(" field_{i}={}", rng.range(0, 1_000_000)));
                }
                line.push_str(" blob=");
                line.extend((0..2048).map(|_| {
                    char::from(
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[rng.range(0, 63) as usize],
                    )
                }));
                line
            })
            .collect(),
        "novel" => {
            let vocabulary: Vec<String> =
                (0..5000).map(|_| rng.alnum(6).replace(|c: char| c.is_ascii_digit(), "x")).collect();
            (0..n)
                .map(|_| {
                    let words = rng.range(3, 12);
                    (0..words).map(|_| rng.pick(&vocabulary).as_str()).collect::<Vec<_>>().join(" ")
                })
                .collect()
        }
        _ => typical().collect(),
    }
}
