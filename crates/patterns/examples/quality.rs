//! Measures the miner on the labelled corpus (see `tests/corpus`).
//!
//! ```text
//! cargo run --release -p trawl-patterns --example quality             # scores, per family
//! cargo run --release -p trawl-patterns --example quality -- --held-out # families never tuned for
//! cargo run --release -p trawl-patterns --example quality -- --lines [N]  # the corpus (or N lines)
//! cargo run --release -p trawl-patterns --example quality -- --predict  # as `trawl patterns` would
//! cargo run --release -p trawl-patterns --example quality -- --score OUT
//!     # scores OUT, the output of `trawl patterns` on the `--lines` corpus
//! ```

#[path = "../tests/corpus/mod.rs"]
mod corpus;

use std::io::{BufRead, Write};

const SEED: u64 = 42;
const LINES: usize = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lines = corpus::generate(SEED, LINES);
    match args.first().map(String::as_str) {
        Some("--lines") => {
            let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(LINES);
            let lines = if n == LINES { lines } else { corpus::generate(SEED, n) };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for line in &lines {
                writeln!(out, "{}", line.text)?;
            }
        }
        Some("--predict") => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut miner = trawl_patterns::Miner::default();
            for line in &lines {
                let (id, template) = miner.add(&line.text);
                writeln!(out, "{id}\t{template}")?;
            }
        }
        Some("--score") => {
            let path = args.get(1).ok_or("--score needs a file")?;
            let file = std::io::BufReader::new(std::fs::File::open(path)?);
            let mut predicted = Vec::new();
            for row in file.lines() {
                let row = row?;
                let (id, template) = row.split_once('\t').ok_or("expected <pattern_id>\\t<template>")?;
                predicted.push((id.parse::<u64>()?, template.to_string()));
            }
            report("trawl patterns output", &corpus::evaluate(&lines, &predicted), false);
        }
        Some("--held-out") => {
            let lines = corpus::generate_from(corpus::HELD_OUT, SEED, 5_000);
            let (online, last) = corpus::mine(&lines);
            report("held out, online", &corpus::evaluate_from(corpus::HELD_OUT, &lines, &online), false);
            report("held out, final", &corpus::evaluate_from(corpus::HELD_OUT, &lines, &last), true);
        }
        _ => {
            let (online, last) = corpus::mine(&lines);
            report(
                "online (id and template as returned for each line)",
                &corpus::evaluate(&lines, &online),
                std::env::var_os("ONLINE_DETAIL").is_some(),
            );
            report("final (ids resolved, templates after the last line)", &corpus::evaluate(&lines, &last), true);
        }
    }
    Ok(())
}

fn report(title: &str, s: &corpus::Scores, per_family: bool) {
    println!("{title}");
    println!(
        "  {} lines, {} families, {} predicted groups: grouping accuracy {:.4}, template exactness {:.4}",
        s.lines, s.families, s.predicted_groups, s.grouping_accuracy, s.template_exactness
    );
    if !per_family {
        return;
    }
    println!("  {:<26} {:>6} {:>6} {:>8} {:>6}", "family", "lines", "groups", "grouped", "exact");
    for f in &s.per_family {
        println!(
            "  {:<26} {:>6} {:>6} {:>8} {:>6}",
            f.name,
            f.lines,
            f.groups,
            if f.grouped { "yes" } else { "NO" },
            f.exact
        );
        if let Some(wrong) = &f.wrong_template {
            println!("      expected {}\n      got      {}", f.true_template, wrong);
        }
    }
}
