//! One position of a template: a constant word or a glob, and how positions generalise.
//!
//! A *glob* is a word where every `<*>` matches any text: `<*>` alone matches every word,
//! `"<*>` every word that starts with a quote, `<*>님의` every word that ends with the
//! particle. Globs come from generalising the words that were seen at one position, keeping what
//! they share in structure: `alice(uid=<*>)` and `bob(uid=<*>)` give `<*>(uid=<*>)`, `"GET` and
//! `"POST` give `"<*>`, `김민수님의` and `이영희님의` give `<*>님의`.

use crate::variable::{is_delimiter, is_hangul, is_plain, split_outer, WordKind, WILDCARD};

/// One position of a template.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    /// `<*>` alone: any word.
    Any,
    /// A constant masked word, compared by hash.
    Const { hash: u64, text: Box<str>, plain: bool },
    /// A glob, kept as its text and as the literal pieces between its `<*>`.
    Glob { text: Box<str>, pieces: Box<[Box<str>]> },
}

/// The hash that identifies a constant word.
pub(crate) fn word_hash(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

impl Slot {
    /// The slot a fresh template gets for a masked word of a message.
    pub fn from_word(text: &str, kind: WordKind) -> Slot {
        match kind {
            WordKind::Wildcard => Slot::glob(WILDCARD),
            WordKind::Plain | WordKind::Calendar => Slot::constant(text, true),
            WordKind::Ident => Slot::constant(text, false),
        }
    }

    pub fn constant(text: &str, plain: bool) -> Slot {
        Slot::Const { hash: word_hash(text), text: text.into(), plain }
    }

    /// A glob from its text; a text without `<*>` is a constant.
    pub fn glob(text: &str) -> Slot {
        if text == WILDCARD {
            return Slot::Any;
        }
        if !text.contains(WILDCARD) {
            return Slot::constant(text, is_plain_text(text));
        }
        let pieces: Vec<Box<str>> = text.split(WILDCARD).map(Box::from).collect();
        Slot::Glob { text: text.into(), pieces: pieces.into_boxed_slice() }
    }

    pub fn text(&self) -> &str {
        match self {
            Slot::Any => WILDCARD,
            Slot::Const { text, .. } | Slot::Glob { text, .. } => text,
        }
    }

    /// Whether the slot matches every word.
    pub fn is_any(&self) -> bool {
        matches!(self, Slot::Any)
    }

    /// A constant made of letters only (see [`WordKind::Plain`]).
    pub fn is_plain(&self) -> bool {
        matches!(self, Slot::Const { plain: true, .. })
    }

    /// Whether the masked word `text` (with hash `hash`) fits this slot.
    #[inline]
    pub fn matches(&self, text: &str, hash: u64) -> bool {
        match self {
            Slot::Any => true,
            Slot::Const { hash: h, .. } => *h == hash,
            Slot::Glob { pieces, .. } => glob_match(pieces, text),
        }
    }
}

/// Whether `text` matches the glob whose literal pieces are `pieces` (at least two).
fn glob_match(pieces: &[Box<str>], text: &str) -> bool {
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else { return true };
    if pieces.len() < 2 {
        return **first == *text;
    }
    if text.len() < first.len() + last.len() || !text.starts_with(&**first) || !text.ends_with(&**last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(&**piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The narrowest glob that matches all of `words` (masked words or glob texts, at least two,
/// not all equal). Structure shared by all of them is kept: outer punctuation, delimiters and
/// the segments that are equal everywhere, and a Hangul particle that ends every varying segment.
pub(crate) fn generalize(words: &[&str]) -> String {
    if words.contains(&WILDCARD) {
        return WILDCARD.to_string();
    }
    let split: Vec<(&str, &str, &str)> = words.iter().map(|w| split_outer(w)).collect();
    let (lead, _, trail) = split[0];
    if split.iter().all(|(l, _, t)| *l == lead && *t == trail) {
        let cores: Vec<&str> = split.iter().map(|(_, c, _)| *c).collect();
        if let Some(core) = generalize_segments(&cores) {
            return format!("{lead}{core}{trail}");
        }
    }
    // Different structures: keep only the outer punctuation they share.
    let lead_len = common_prefix(words, |c| matches!(c, '(' | '[' | '{' | '"' | '\'' | '#' | '$'));
    let trail_len =
        common_suffix(words, |c| matches!(c, ')' | ']' | '}' | '"' | '\'' | ',' | ';' | ':' | '.' | '!' | '?'));
    let w = words[0];
    if lead_len + trail_len >= w.len() {
        return WILDCARD.to_string();
    }
    format!("{}{WILDCARD}{}", &w[..lead_len], &w[w.len() - trail_len..])
}

/// One piece of a core: a segment (maybe holding `<*>`) or one delimiter.
#[derive(Debug, PartialEq)]
enum Part<'a> {
    Segment(&'a str),
    Delimiter(u8),
}

fn parts(core: &str) -> Vec<Part<'_>> {
    let b = core.as_bytes();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_delimiter(b[i]) && !b[i..].starts_with(WILDCARD.as_bytes()) {
            parts.push(Part::Delimiter(b[i]));
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() {
            if b[i..].starts_with(WILDCARD.as_bytes()) {
                i += WILDCARD.len();
            } else if is_delimiter(b[i]) {
                break;
            } else {
                i += 1;
            }
        }
        parts.push(Part::Segment(&core[start..i]));
    }
    parts
}

/// Segment-wise generalisation of cores that share their delimiters; `None` when they do not.
fn generalize_segments(cores: &[&str]) -> Option<String> {
    let all: Vec<Vec<Part>> = cores.iter().map(|c| parts(c)).collect();
    let first = &all[0];
    let same_shape = all.iter().all(|p| {
        p.len() == first.len()
            && p.iter().zip(first).all(|(a, b)| match (a, b) {
                (Part::Delimiter(x), Part::Delimiter(y)) => x == y,
                (Part::Segment(_), Part::Segment(_)) => true,
                _ => false,
            })
    });
    if !same_shape {
        return None;
    }
    let mut out = String::new();
    for (i, part) in first.iter().enumerate() {
        match part {
            Part::Delimiter(d) => out.push(*d as char),
            Part::Segment(s) => {
                let segments: Vec<&str> = all
                    .iter()
                    .map(|p| match p[i] {
                        Part::Segment(s) => s,
                        Part::Delimiter(_) => "",
                    })
                    .collect();
                if segments.iter().all(|x| x == s) {
                    out.push_str(s);
                } else {
                    out.push_str(WILDCARD);
                    out.push_str(particle(&segments));
                }
            }
        }
    }
    Some(out)
}

/// The Hangul ending shared by every segment, when something varies before it. After Hangul
/// (a name: `김민수님의`, `이영희님의`) it is a particle of one or two syllables (`님의`); after
/// other characters (`payment서비스`, `checkout서비스`) it is the whole Hangul word (`서비스`).
fn particle<'a>(segments: &[&'a str]) -> &'a str {
    let n = common_suffix(segments, is_hangul);
    let first = segments[0];
    if n == 0 || segments.iter().any(|s| s.len() <= n) {
        return "";
    }
    let suffix = &first[first.len() - n..];
    let after_other_script =
        segments.iter().all(|s| s[..s.len() - n].chars().next_back().is_some_and(|c| !is_hangul(c)));
    if after_other_script {
        return suffix;
    }
    let start = suffix.char_indices().rev().nth(1).map_or(0, |(i, _)| i);
    &suffix[start..]
}

/// Byte length of the longest common prefix of `words` made of chars accepted by `keep`.
fn common_prefix(words: &[&str], keep: impl Fn(char) -> bool) -> usize {
    let first = words[0];
    let mut len = 0;
    for (i, c) in first.char_indices() {
        if !keep(c) || !words.iter().all(|w| w[i..].starts_with(c)) {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

/// Byte length of the longest common suffix of `words` made of chars accepted by `keep`.
fn common_suffix(words: &[&str], keep: impl Fn(char) -> bool) -> usize {
    let first = words[0];
    let mut len = 0;
    for (i, c) in first.char_indices().rev() {
        let tail = &first[i..];
        if !keep(c) || !words.iter().all(|w| w.ends_with(tail)) {
            break;
        }
        len = tail.len();
    }
    len
}

/// Letters only, in outer punctuation (see [`WordKind::Plain`]).
pub(crate) fn is_plain_text(text: &str) -> bool {
    is_plain(split_outer(text).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(words: &[&str], expect: &str) {
        let glob = generalize(words);
        assert_eq!(glob, expect, "{words:?}");
        let slot = Slot::glob(&glob);
        for w in words {
            assert!(slot.matches(w, word_hash(w)), "{glob} must match {w}");
        }
    }

    #[test]
    fn generalisation_keeps_shared_structure() {
        check(&["alice", "bob"], "<*>");
        check(&["\"GET", "\"POST", "\"PUT"], "\"<*>");
        check(&["alice,", "bob,"], "<*>,");
        check(&["(java)", "(python3)"], "(<*>)");
        check(&["alice(uid=<*>)", "bob(uid=<*>)"], "<*>(uid=<*>)");
        check(&["tasks.send_email[<*>]", "tasks.charge[<*>]"], "<*>[<*>]");
        check(&["user:profile:<*>", "order:summary:<*>"], "<*>:<*>:<*>");
        check(&["<*>:<*>:<*>", "session:<*>"], "<*>");
        check(&["<*>", "anything"], "<*>");
        check(&["'a'", "(b)"], "<*>");
    }

    #[test]
    fn hangul_particles_survive() {
        check(&["김민수님의", "이영희님의"], "<*>님의");
        check(&["<*>님의", "박지성님의"], "<*>님의");
        check(&["결제가", "결제를"], "<*>");
        check(&["님의", "김님의"], "<*>");
        check(&["alice님", "bob님"], "<*>님");
        check(&["payment서비스", "checkout서비스"], "<*>서비스");
        check(&["김민수님께서", "이영희님께서"], "<*>께서");
    }

    #[test]
    fn globs_match() {
        let any = Slot::glob("<*>");
        assert!(any.is_any() && any.matches("x", word_hash("x")));
        let g = Slot::glob("<*>(uid=<*>)");
        assert!(g.matches("carol(uid=<*>)", 0));
        assert!(!g.matches("carol", 0));
        assert!(!Slot::glob("a<*>a").matches("a", 0));
        assert!(Slot::glob("a<*>a").matches("aa", 0));
        assert!(matches!(Slot::glob("plain"), Slot::Const { plain: true, .. }));
    }
}
