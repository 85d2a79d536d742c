//! Labels of alerts, their fingerprints, and the matchers that select alerts (silences, routes,
//! inhibition), in Alertmanager's syntax: `team=payments`, `severity!=info`,
//! `service=~"payment-.*"`, `env!~"dev|test"`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An alert's labels; sorted, so equal sets print and hash the same.
pub type Labels = BTreeMap<String, String>;

/// The label every alert carries with its rule's name.
pub const RULE_LABEL: &str = "rule";

/// Most labels on one alert, and longest name and value.
pub const MAX_LABELS: usize = 64;
pub const MAX_LABEL_NAME: usize = 128;
pub const MAX_LABEL_VALUE: usize = 1024;

/// A stable id of an alert instance: its rule and labels.
pub fn fingerprint(labels: &Labels) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update(&[0]);
        h.update(v.as_bytes());
        h.update(&[0]);
    }
    format!("{:016x}", h.digest())
}

/// Label names as Prometheus and Alertmanager take them: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_LABEL_NAME
}

/// A column or field name made into a label name: other characters become `_`
/// (`service.name` → `service_name`), and `service.name` itself becomes `service`.
pub fn label_name_of(field: &str) -> String {
    match trawl_query::core_field(field) {
        Some(core) => core.to_string(),
        None => {
            let mut out: String = field.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).take(MAX_LABEL_NAME).collect();
            if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
                out.insert(0, '_');
            }
            out
        }
    }
}

/// A label value cut to its limit (at a character boundary).
pub fn clip_value(value: &str) -> String {
    if value.len() <= MAX_LABEL_VALUE {
        return value.to_string();
    }
    let mut end = MAX_LABEL_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Ne,
    Re,
    NotRe,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::NotRe => "!~",
        }
    }
}

/// One condition on a label. A missing label reads as the empty string, as in Alertmanager.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// Anchored, for `=~` and `!~`.
    regex: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

/// Longest regex program a matcher may compile to.
const MATCHER_REGEX_LIMIT: usize = 256 * 1024;

impl Matcher {
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        if !valid_label_name(name) {
            return Err(format!("{name:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"));
        }
        let regex = match op {
            MatchOp::Re | MatchOp::NotRe => Some(
                regex::RegexBuilder::new(&format!("^(?:{value})$"))
                    .size_limit(MATCHER_REGEX_LIMIT)
                    .build()
                    .map_err(|e| format!("{value:?} is not a regular expression: {e}"))?,
            ),
            _ => None,
        };
        Ok(Matcher { name: name.to_string(), op, value: value.to_string(), regex })
    }

    /// `name=value`, `name!=value`, `name=~regex`, `name!~regex`; the value may be quoted.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let t = text.trim();
        let at = t.find(['=', '!']).ok_or_else(|| format!("{t:?} is not a matcher such as team=payments or service=~\"pay.*\""))?;
        let name = t[..at].trim();
        let rest = &t[at..];
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchOp::Re, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::NotRe, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchOp::Ne, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchOp::Eq, v.strip_prefix('=').unwrap_or(v))
        } else {
            return Err(format!("{t:?} is not a matcher such as team=payments"));
        };
        let value = value.trim();
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) => serde_json::from_str::<String>(&format!("\"{inner}\"")).unwrap_or_else(|_| inner.to_string()),
            None => value.to_string(),
        };
        Matcher::new(name, op, &value)
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match self.op {
            MatchOp::Eq => value == self.value,
            MatchOp::Ne => value != self.value,
            MatchOp::Re => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRe => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.as_str(), serde_json::to_string(&self.value).unwrap_or_default())
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Matcher, D::Error> {
        let text = String::deserialize(d)?;
        Matcher::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// True when every matcher matches (no matchers: everything).
pub fn all_match(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// A name pattern of rule targets: `*` (any), an exact name, or a glob with `*` and `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern(String);

impl NamePattern {
    pub fn new(text: &str) -> NamePattern {
        NamePattern(text.trim().to_string())
    }

    pub fn any() -> NamePattern {
        NamePattern("*".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// One name, not a pattern.
    pub fn exact(&self) -> Option<&str> {
        trawl_model::glob::is_literal(&self.0).then_some(self.0.as_str())
    }

    pub fn matches(&self, name: &str) -> bool {
        trawl_model::glob::glob_match(&self.0, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn matchers_parse_and_match_like_alertmanager() {
        let l = labels(&[("team", "payments"), ("service", "payment-service"), ("summary", "결제 실패")]);
        for (m, yes) in [
            ("team=payments", true),
            ("team = \"payments\"", true),
            ("team!=payments", false),
            ("service=~payment-.*", true),
            ("service=~payment", false),
            ("service!~\"auth.*\"", true),
            ("missing=", true),
            ("missing!=", false),
            ("summary=결제 실패", true),
        ] {
            assert_eq!(Matcher::parse(m).unwrap().matches(&l), yes, "{m}");
        }
        for bad in ["team", "1team=x", "team=~(", "=x"] {
            assert!(Matcher::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Matcher::parse("team=~\"pay.*\"").unwrap().to_string(), "team=~\"pay.*\"");
    }

    #[test]
    fn fingerprints_and_names() {
        let a = labels(&[("rule", "x"), ("service", "a")]);
        let b = labels(&[("service", "a"), ("rule", "x")]);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&labels(&[("rule", "x"), ("service", "b")])));
        assert_eq!(label_name_of("service.name"), "service");
        assert_eq!(label_name_of("http.route"), "http_route");
        assert_eq!(label_name_of("2xx"), "_2xx");
        assert!(valid_label_name("severity") && !valid_label_name("sev-erity"));
    }

    #[test]
    fn name_patterns_glob() {
        assert!(NamePattern::new("*").matches("anything"));
        assert!(NamePattern::new("payment-*").matches("payment-service"));
        assert!(!NamePattern::new("payment-*").matches("order-service"));
        assert!(NamePattern::new("*-service").matches("auth-service"));
        assert!(NamePattern::new("a?c").matches("abc"));
        assert_eq!(NamePattern::new("auth-service").exact(), Some("auth-service"));
        assert_eq!(NamePattern::new("auth-*").exact(), None);
        // Many stars against a long text stays quick.
        let long = "a".repeat(10_000);
        assert!(!NamePattern::new(&"*a".repeat(50).replace("a", "b")).matches(&long));
    }
}
