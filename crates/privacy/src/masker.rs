//! One pass over a value: a scan of its bytes (digit runs, `@`, `:`) and one Aho-Corasick pass
//! over trigger words say which detectors can match, only those run, their findings are checked
//! (Luhn, check digits), overlaps resolved (earliest, then longest), and the text is rebuilt
//! with every finding replaced; the rest stays byte for byte.

use std::collections::{BTreeMap, HashSet};

use hmac::{Hmac, Mac};
use aho_corasick::AhoCorasick;
use regex::Regex;
use sha2::Sha256;
use trawl_model::{AttrValue, Attributes, Record, Span};

use crate::config::{Action, PrivacyConfig};
use crate::detectors::{Partial, Trigger, BUILTINS, SENSITIVE_ATTRIBUTES};
use crate::PrivacyError;

/// The detector name of values of sensitive attribute names.
pub const SENSITIVE_ATTRIBUTE: &str = "sensitive_attribute";
/// The attribute a masked record or span carries: `detector:count,...`.
pub const MASKED_ATTRIBUTE: &str = "trawl.masked";

/// Values shorter than this hold nothing any detector finds (`a@b.co` is 6, `pwd=x` 5).
const MIN_LEN: usize = 5;

/// Passes over a value after the first, until nothing more is found.
const MAX_ROUNDS: usize = 4;

struct Detector {
    name: String,
    /// None: always run (the user's own detectors).
    trigger: Option<Trigger>,
    regex: Regex,
    group: usize,
    check: Option<fn(&str) -> bool>,
    partial: Partial,
    action: Action,
}

/// Findings of one record or span, by detector.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings(pub BTreeMap<String, u32>);

impl Findings {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn add(&mut self, name: &str) {
        *self.0.entry(name.to_string()).or_default() += 1;
    }

    /// `card:1,email:2`.
    pub fn summary(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(",")
    }
}

/// The compiled rules; cheap to share (`Arc`), used from any thread.
pub struct Masker {
    detectors: Vec<Detector>,
    /// The words of every `Trigger::Words`, without ASCII case, and the detectors each wakes.
    words: AhoCorasick,
    word_detectors: Vec<usize>,
    sensitive: HashSet<String>,
    sensitive_action: Action,
    exclude: HashSet<String>,
    key: Option<Vec<u8>>,
}

impl Masker {
    /// Compiles `config`; every problem (unknown detector, bad regex, `hash` without a key) is
    /// an error naming it.
    pub fn new(config: &PrivacyConfig) -> Result<Masker, PrivacyError> {
        let known: HashSet<&str> = BUILTINS.iter().map(|b| b.name).chain(config.custom.iter().map(|c| c.name.as_str())).collect();
        for name in config.detectors.keys().chain(config.actions.keys()) {
            if !known.contains(name.as_str()) && name != SENSITIVE_ATTRIBUTE {
                return Err(PrivacyError(format!("unknown detector {name:?}; known: {}", BUILTINS.iter().map(|b| b.name).collect::<Vec<_>>().join(", "))));
            }
        }
        let action = |name: &str| config.actions.get(name).copied().unwrap_or(Action::Mask);
        let mut detectors = Vec::new();
        for b in BUILTINS {
            if !config.detectors.get(b.name).copied().unwrap_or(b.default_on) {
                continue;
            }
            let regex = Regex::new(b.pattern).map_err(|e| PrivacyError(format!("detector {}: {e}", b.name)))?;
            detectors.push(Detector {
                name: b.name.to_string(),
                trigger: Some(b.trigger),
                regex,
                group: b.group,
                check: b.check,
                partial: b.partial,
                action: action(b.name),
            });
        }
        for c in &config.custom {
            if BUILTINS.iter().any(|b| b.name == c.name) {
                return Err(PrivacyError(format!("custom detector {:?} has the name of a built-in one", c.name)));
            }
            if !config.detectors.get(&c.name).copied().unwrap_or(true) {
                continue;
            }
            let regex = regex::RegexBuilder::new(&c.pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| PrivacyError(format!("custom detector {:?}: {e}", c.name)))?;
            let group = usize::from(regex.captures_len() > 1);
            detectors.push(Detector {
                name: c.name.clone(),
                trigger: None,
                regex,
                group,
                check: None,
                partial: Partial::Token,
                action: c.action.unwrap_or_else(|| action(&c.name)),
            });
        }
        let mut words = Vec::new();
        let mut word_detectors = Vec::new();
        for (i, d) in detectors.iter().enumerate() {
            if let Some(Trigger::Words(list)) = d.trigger {
                for w in list {
                    words.push(*w);
                    word_detectors.push(i);
                }
            }
        }
        let words = AhoCorasick::builder().ascii_case_insensitive(true).build(&words).map_err(|e| PrivacyError(e.to_string()))?;
        let sensitive_action = action(SENSITIVE_ATTRIBUTE);
        let wants_key = detectors.iter().any(|d| d.action == Action::Hash) || sensitive_action == Action::Hash;
        let key = config.hash_key.as_ref().map(|k| k.as_bytes().to_vec()).filter(|k| !k.is_empty());
        if wants_key && key.is_none() {
            return Err(PrivacyError("the hash action needs privacy.hash_key (a secret of your own)".into()));
        }
        let sensitive = SENSITIVE_ATTRIBUTES.iter().map(|s| s.to_string()).chain(config.sensitive_attributes.iter().map(|s| s.to_lowercase())).collect();
        Ok(Masker { detectors, words, word_detectors, sensitive, sensitive_action, exclude: config.exclude_fields.iter().cloned().collect(), key })
    }

    /// The names of the detectors that run.
    pub fn detector_names(&self) -> Vec<&str> {
        self.detectors.iter().map(|d| d.name.as_str()).collect()
    }

    /// `text` with every finding replaced, or None when nothing was found. A replacement can
    /// make a neighbour stand alone (`a@b.com220-81-62517` → `[REDACTED:email]220-81-62517`),
    /// so the pass repeats on its own output until nothing more is found: masking the result
    /// again changes nothing.
    pub fn mask_text(&self, text: &str, findings: &mut Findings) -> Option<String> {
        let mut current = self.mask_once(text, findings)?;
        for _ in 0..MAX_ROUNDS {
            match self.mask_once(&current, findings) {
                Some(next) => current = next,
                None => break,
            }
        }
        Some(current)
    }

    fn mask_once(&self, text: &str, findings: &mut Findings) -> Option<String> {
        if text.len() < MIN_LEN {
            return None;
        }
        let candidates = self.candidates(text);
        if candidates.is_empty() {
            return None;
        }
        // Tokens of an earlier mask are never part of a finding.
        let masked = mask_tokens(text);
        let overlaps_mask = |start: usize, end: usize| masked.iter().any(|&(a, b)| start < b && a < end);
        // (start, end, detector)
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        for i in candidates {
            let d = &self.detectors[i];
            // The next search starts where the sensitive part ended, not the whole match: a
            // pattern's boundary character (`,` between two card numbers) may start the next.
            let mut pos = 0;
            while let Some(caps) = d.regex.captures_at(text, pos) {
                let Some(m) = caps.get(d.group).filter(|m| !m.is_empty()) else {
                    let whole = caps.get(0).map_or(text.len(), |m| m.end());
                    pos = if whole > pos { whole } else { next_char(text, pos) };
                    if pos >= text.len() {
                        break;
                    }
                    continue;
                };
                let value = m.as_str();
                if !is_masked(value) && !overlaps_mask(m.start(), m.end()) && d.check.is_none_or(|check| check(value)) {
                    found.push((m.start(), m.end(), i));
                }
                pos = if m.end() > pos { m.end() } else { next_char(text, pos) };
                if pos >= text.len() {
                    break;
                }
            }
        }
        if found.is_empty() {
            return None;
        }
        // Earliest first; at one start, the detector of higher precedence, then the longest.
        found.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)).then(b.1.cmp(&a.1)));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, i) in found {
            if start < at {
                continue;
            }
            let d = &self.detectors[i];
            out.push_str(&text[at..start]);
            out.push_str(&self.replacement(d, &text[start..end]));
            findings.add(&d.name);
            at = end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }

    /// The detectors whose trigger `text` holds, from one pass over its bytes and one
    /// Aho-Corasick pass for the trigger words.
    fn candidates(&self, text: &str) -> Vec<usize> {
        let (mut digits, mut run, mut longest, mut separated) = (0usize, 0usize, 0usize, false);
        for &b in text.as_bytes() {
            if b.is_ascii_digit() {
                digits += 1;
                run += 1;
                separated = false;
                longest = longest.max(run);
            } else if (b == b' ' || b == b'-') && run > 0 && !separated {
                separated = true;
            } else {
                run = 0;
                separated = false;
            }
        }
        let mut woken = vec![false; self.detectors.len()];
        if self.words.patterns_len() > 0 {
            for m in self.words.find_overlapping_iter(text) {
                woken[self.word_detectors[m.pattern().as_usize()]] = true;
            }
        }
        let bytes = text.as_bytes();
        (0..self.detectors.len())
            .filter(|&i| match self.detectors[i].trigger {
                None => true,
                Some(Trigger::DigitRun(n)) => longest >= n,
                Some(Trigger::Digits(n)) => digits >= n,
                Some(Trigger::Byte(b)) => bytes.contains(&b),
                Some(Trigger::Words(_)) => woken[i],
            })
            .collect()
    }

    fn replacement(&self, d: &Detector, value: &str) -> String {
        match d.action {
            Action::Hash => self.hash(&d.name, value),
            Action::Mask | Action::DropField => partial(d.partial, &d.name, value),
        }
    }

    fn hash(&self, name: &str, value: &str) -> String {
        let key = self.key.as_deref().unwrap_or_default();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("[HASH:{name}:{hex}]")
    }

    fn is_sensitive_name(&self, key: &str) -> bool {
        let lower = key.to_lowercase();
        if self.sensitive.contains(&lower) {
            return true;
        }
        // `http.request.header.cookie`, `db.password`, `user_password`.
        lower.rfind(['.', '_', '-']).is_some_and(|i| self.sensitive.contains(&lower[i + 1..]))
    }

    /// Masks attribute values in place (or drops them), counting what was found.
    fn mask_attributes(&self, attributes: &mut Attributes, findings: &mut Findings) {
        attributes.retain_mut(|(key, value)| {
            if self.exclude.contains(key.as_str()) || key == MASKED_ATTRIBUTE {
                return true;
            }
            if self.is_sensitive_name(key) {
                if matches!(value, AttrValue::Str(s) if s.is_empty() || is_masked(s)) {
                    return true;
                }
                findings.add(SENSITIVE_ATTRIBUTE);
                match self.sensitive_action {
                    Action::DropField => return false,
                    Action::Hash => *value = AttrValue::Str(self.hash(SENSITIVE_ATTRIBUTE, &value.to_text())),
                    Action::Mask => *value = AttrValue::Str(format!("[REDACTED:{SENSITIVE_ATTRIBUTE}]")),
                }
                return true;
            }
            let text = match value {
                AttrValue::Str(s) => std::borrow::Cow::Borrowed(s.as_str()),
                // A card number sent as a number is still a card number.
                AttrValue::Int(i) if i.unsigned_abs() >= 1_000_000_000_000 => std::borrow::Cow::Owned(i.to_string()),
                _ => return true,
            };
            let mut here = Findings::default();
            let Some(masked) = self.mask_text(&text, &mut here) else { return true };
            let dropped = here.0.keys().any(|name| self.detectors.iter().any(|d| &d.name == name && d.action == Action::DropField));
            for (name, n) in here.0 {
                *findings.0.entry(name).or_default() += n;
            }
            if dropped {
                return false;
            }
            *value = AttrValue::Str(masked);
            true
        });
    }

    /// Masks a record's body, attributes and resource in place (trace and span ids never), and
    /// marks it with `trawl.masked` when anything was found.
    pub fn mask_record(&self, r: &mut Record) -> Findings {
        let mut findings = Findings::default();
        if let Some(body) = self.mask_text(&r.body, &mut findings) {
            r.body = body;
        }
        self.mask_attributes(&mut r.attributes, &mut findings);
        self.mask_attributes(&mut r.resource, &mut findings);
        mark(&mut r.attributes, &findings);
        findings
    }

    /// Masks a span's status message, attributes, resource, and its events' and links'
    /// attributes in place, and marks it with `trawl.masked`.
    pub fn mask_span(&self, s: &mut Span) -> Findings {
        let mut findings = Findings::default();
        if let Some(message) = self.mask_text(&s.status_message, &mut findings) {
            s.status_message = message;
        }
        self.mask_attributes(&mut s.attributes, &mut findings);
        self.mask_attributes(&mut s.resource, &mut findings);
        for e in &mut s.events {
            self.mask_attributes(&mut e.attributes, &mut findings);
        }
        for l in &mut s.links {
            self.mask_attributes(&mut l.attributes, &mut findings);
        }
        mark(&mut s.attributes, &findings);
        findings
    }
}

/// Adds (or merges into) the `trawl.masked` attribute.
fn mark(attributes: &mut Attributes, findings: &Findings) {
    if findings.is_empty() {
        return;
    }
    let mut all = findings.clone();
    if let Some(i) = attributes.iter().position(|(k, _)| k == MASKED_ATTRIBUTE) {
        if let AttrValue::Str(previous) = &attributes[i].1 {
            for part in previous.split(',') {
                if let Some((name, n)) = part.split_once(':') {
                    *all.0.entry(name.to_string()).or_default() += n.parse::<u32>().unwrap_or(0);
                }
            }
        }
        attributes.remove(i);
    }
    attributes.push((MASKED_ATTRIBUTE.to_string(), AttrValue::Str(all.summary())));
}

/// Byte ranges of the `[REDACTED:...]` and `[HASH:...]` tokens in `text`.
fn mask_tokens(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for marker in ["[REDACTED:", "[HASH:"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(marker) {
            let start = from + i;
            let end = text[start..].find(']').map_or(text.len(), |j| start + j + 1);
            out.push((start, end));
            from = end.max(start + 1);
        }
    }
    out
}

fn next_char(text: &str, pos: usize) -> usize {
    text[pos..].chars().next().map_or(text.len(), |c| pos + c.len_utf8())
}

/// A value already masked or hashed: never masked again (masking is idempotent).
fn is_masked(value: &str) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'');
    v.starts_with("[REDACTED:") || v.starts_with("[HASH:")
}

fn partial(kind: Partial, name: &str, value: &str) -> String {
    match kind {
        Partial::Token => format!("[REDACTED:{name}]"),
        Partial::LastFourDigits => digits_hidden_from(value, 0),
        Partial::KeepFirst(n) => value.chars().enumerate().map(|(i, c)| if i >= n && c.is_ascii_alphanumeric() { '*' } else { c }).collect(),
        // The prefix (up to the first separator, else three characters) stays too.
        Partial::Phone => digits_hidden_from(value, value.find([' ', '-']).unwrap_or(3.min(value.len()))),
    }
}

/// `value` with every digit at or after byte `from` as `*`, except the last four digits;
/// separators and everything before `from` stay.
fn digits_hidden_from(value: &str, from: usize) -> String {
    let total = value.bytes().filter(u8::is_ascii_digit).count();
    let mut seen = 0;
    value
        .char_indices()
        .map(|(i, c)| {
            if c.is_ascii_digit() {
                seen += 1;
                if i >= from && seen <= total.saturating_sub(4) {
                    return '*';
                }
            }
            c
        })
        .collect()
}
