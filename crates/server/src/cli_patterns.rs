//! `trawl patterns [FILE|-]`: mines log patterns from one message per line.
//!
//! The output is a contract (the miner's quality is measured with it): for every input line in
//! order, `<pattern_id>\t<template>`; with `--summary`, one row per pattern,
//! `<count>\t<pattern_id>\t<template>`, largest first. Templates never hold a tab or a newline.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::Path;

use anyhow::Context;
use trawl_patterns::{Config, Miner, PatternId};

/// What to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Each line's pattern as the miner answers when it reads the line (streaming).
    Lines,
    /// Each line's pattern as the miner holds it after the last line: ids merged later are
    /// resolved, templates are the final ones. Keeps one id per line in memory.
    Final,
    /// The patterns with their counts, largest first.
    Summary,
}

pub fn run(file: &Path, mode: Mode, max_patterns: usize) -> anyhow::Result<()> {
    let input: Box<dyn Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?)
    };
    let miner = Miner::new(Config { max_patterns, ..Config::default() })?;
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match mine(BufReader::with_capacity(1 << 16, input), miner, mode, &mut out)
        .and_then(|()| out.flush().map_err(Into::into))
    {
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == ErrorKind::BrokenPipe) => Ok(()),
        other => other,
    }
}

fn mine(mut input: impl BufRead, mut miner: Miner, mode: Mode, out: &mut impl Write) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let mut ids: Vec<PatternId> = Vec::new();
    // The last template each id was given, for ids evicted before the end (`--final`).
    let mut last_templates: HashMap<PatternId, String> = HashMap::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf).context("cannot read input")? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(trim_line_end(&buf));
        let (id, template) = miner.add(&line);
        match mode {
            Mode::Lines => writeln!(out, "{id}\t{template}")?,
            Mode::Final => {
                ids.push(id);
                if let Some(t) = last_templates.get_mut(&id) {
                    if t != template {
                        template.clone_into(t);
                    }
                } else {
                    last_templates.insert(id, template.to_string());
                }
            }
            Mode::Summary => {}
        }
    }
    match mode {
        Mode::Lines => {}
        Mode::Final => {
            for id in ids {
                match miner.resolve(id).and_then(|live| Some((live, miner.template(live)?))) {
                    Some((live, template)) => writeln!(out, "{live}\t{template}")?,
                    None => writeln!(out, "{id}\t{}", last_templates.get(&id).map_or("", String::as_str))?,
                }
            }
        }
        Mode::Summary => {
            let mut patterns = miner.patterns();
            patterns.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
            for p in patterns {
                writeln!(out, "{}\t{}\t{}", p.count, p.id, p.template)?;
            }
        }
    }
    Ok(())
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], mode: Mode, expect: &str) {
        let mut out = Vec::new();
        mine(input, Miner::default(), mode, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), expect);
    }

    #[test]
    fn every_line_gets_its_pattern() {
        let input = b"user alice logged in\r\nuser bob logged in\nuser 7 logged out\n\xff broken utf-8 42";
        check(
            input,
            Mode::Lines,
            "1\tuser alice logged in\n1\tuser <*> logged in\n2\tuser <*> logged out\n3\t\u{fffd} broken utf-8 <*>\n",
        );
        check(
            input,
            Mode::Final,
            "1\tuser <*> logged in\n1\tuser <*> logged in\n2\tuser <*> logged out\n3\t\u{fffd} broken utf-8 <*>\n",
        );
        check(
            input,
            Mode::Summary,
            "2\t1\tuser <*> logged in\n1\t2\tuser <*> logged out\n1\t3\t\u{fffd} broken utf-8 <*>\n",
        );
        check(b"", Mode::Lines, "");
    }
}
