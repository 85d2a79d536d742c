//! Alerting as code: files (`*.yaml`, `*.yml`, `*.toml`, `*.json`) holding `rules`,
//! `contact_points` and `policies`, loaded at start and on reload. A set of files is taken
//! whole or not at all: every problem of every file is listed with its file and line, and
//! the previous configuration stays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::contact_point::ContactPointSpec;
use crate::policy::Policies;
use crate::rule::RuleSpec;

/// Largest file read.
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// Most rules over all files.
pub const MAX_RULES: usize = 10_000;

/// One file's text and the name it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// What a set of files defines.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// (spec, source)
    pub rules: Vec<(RuleSpec, String)>,
    pub contact_points: Vec<(ContactPointSpec, String)>,
    pub policies: Option<(Policies, String)>,
}

/// A problem at a place in a file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileProblem {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Yaml,
    Toml,
    Json,
}

fn format_of(name: &str) -> Option<Format> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Some(Format::Yaml)
    } else if lower.ends_with(".toml") {
        Some(Format::Toml)
    } else if lower.ends_with(".json") {
        Some(Format::Json)
    } else {
        None
    }
}

/// The rule files of a directory (not recursive), in name order.
pub fn read_dir(dir: &Path) -> Result<Vec<Source>, Vec<FileProblem>> {
    let entries = std::fs::read_dir(dir).map_err(|e| vec![FileProblem { file: dir.display().to_string(), line: None, message: e.to_string() }])?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('.') && format_of(n).is_some()))
        .collect();
    paths.sort();
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match read_file(&path) {
            Ok(s) => sources.push(s),
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(sources)
    } else {
        Err(problems)
    }
}

pub fn read_file(path: &Path) -> Result<Source, FileProblem> {
    let name = path.display().to_string();
    let problem = |message: String| FileProblem { file: name.clone(), line: None, message };
    let meta = std::fs::metadata(path).map_err(|e| problem(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(problem(format!("larger than {} MiB", MAX_FILE_BYTES >> 20)));
    }
    let bytes = std::fs::read(path).map_err(|e| problem(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| problem("not UTF-8 text".into()))?;
    Ok(Source { name, text })
}

/// The top-level shape of a file; each item is checked on its own so every problem is listed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rules: Vec<serde_json::Value>,
    #[serde(default)]
    contact_points: Vec<serde_json::Value>,
    #[serde(default)]
    policies: Option<serde_json::Value>,
}

fn parse_raw(source: &Source, format: Format) -> Result<RawFile, FileProblem> {
    let problem = |line: Option<usize>, message: String| FileProblem { file: source.name.clone(), line, message };
    match format {
        Format::Yaml => {
            if source.text.trim().is_empty() {
                return Ok(RawFile::default());
            }
            serde_yaml_ng::from_str::<RawFile>(&source.text).map_err(|e| problem(e.location().map(|l| l.line()), e.to_string()))
        }
        Format::Toml => toml::from_str::<RawFile>(&source.text).map_err(|e| {
            let line = e.span().map(|s| source.text[..s.start.min(source.text.len())].matches('\n').count() + 1);
            problem(line, e.message().to_string())
        }),
        Format::Json => serde_json::from_str::<RawFile>(&source.text).map_err(|e| problem(Some(e.line()), e.to_string())),
    }
}

/// Line numbers (1-based) where the items of a top-level list begin.
fn item_lines(text: &str, key: &str, format: Format) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    match format {
        Format::Toml => {
            let header = format!("[[{key}]]");
            lines.iter().enumerate().filter(|(_, l)| l.trim() == header).map(|(i, _)| i + 1).collect()
        }
        Format::Yaml => {
            let Some(start) = lines.iter().position(|l| l.starts_with(&format!("{key}:"))) else { return Vec::new() };
            let mut out = Vec::new();
            let mut indent: Option<usize> = None;
            for (i, l) in lines.iter().enumerate().skip(start + 1) {
                let trimmed = l.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let at = l.len() - trimmed.len();
                if at == 0 && !trimmed.starts_with('-') {
                    break;
                }
                if trimmed.starts_with("- ") || trimmed == "-" {
                    match indent {
                        None => {
                            indent = Some(at);
                            out.push(i + 1);
                        }
                        Some(n) if n == at => out.push(i + 1),
                        _ => {}
                    }
                }
            }
            out
        }
        Format::Json => Vec::new(),
    }
}

/// The line of `field` inside the item starting at `from` (before `to`), else `from`.
fn field_line(text: &str, from: Option<usize>, to: Option<usize>, field: &str, format: Format) -> Option<usize> {
    let from = from?;
    let top = field.split(['.', '[']).next().unwrap_or(field);
    let lines: Vec<&str> = text.lines().collect();
    let end = to.unwrap_or(lines.len() + 1).min(lines.len() + 1);
    for n in from..end {
        let l = lines.get(n - 1)?.trim_start().trim_start_matches("- ").trim_start();
        let hit = match format {
            Format::Yaml => l.starts_with(&format!("{top}:")),
            Format::Toml => l.starts_with(top) && l[top.len()..].trim_start().starts_with('='),
            Format::Json => false,
        };
        if hit {
            return Some(n);
        }
    }
    Some(from)
}

/// Parses every source; all problems are returned, with files and lines.
pub fn load(sources: &[Source]) -> Result<Loaded, Vec<FileProblem>> {
    let mut loaded = Loaded::default();
    let mut problems = Vec::new();
    for source in sources {
        let Some(format) = format_of(&source.name) else {
            problems.push(FileProblem { file: source.name.clone(), line: None, message: "not a .yaml, .yml, .toml or .json file".into() });
            continue;
        };
        let raw = match parse_raw(source, format) {
            Ok(r) => r,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let rule_lines = item_lines(&source.text, "rules", format);
        for (i, value) in raw.rules.into_iter().enumerate() {
            let line = rule_lines.get(i).copied();
            let next = rule_lines.get(i + 1).copied();
            let at = |field: &str| field_line(&source.text, line, next, field, format);
            let spec: RuleSpec = match serde_json::from_value(value) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(FileProblem { file: source.name.clone(), line, message: format!("rules[{i}]: {e}") });
                    continue;
                }
            };
            if let Err(ps) = spec.compile() {
                for p in ps {
                    problems.push(FileProblem { file: source.name.clone(), line: at(&p.field), message: format!("rule {:?}: {p}", spec.name) });
                }
                continue;
            }
            loaded.rules.push((spec, source.name.clone()));
        }
        let cp_lines = item_lines(&source.text, "contact_points", format);
        for (i, value) in raw.contact_points.into_iter().enumerate() {
            let line = cp_lines.get(i).copied();
            let mut cp: ContactPointSpec = match serde_json::from_value(value) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(FileProblem { file: source.name.clone(), line, message: format!("contact_points[{i}]: {e}") });
                    continue;
                }
            };
            if let Err(e) = cp.expand_env() {
                problems.push(FileProblem { file: source.name.clone(), line, message: format!("contact point {:?}: {e}", cp.name) });
                continue;
            }
            let ps = cp.check();
            if !ps.is_empty() {
                for p in ps {
                    problems.push(FileProblem { file: source.name.clone(), line, message: format!("contact point {:?}: {p}", cp.name) });
                }
                continue;
            }
            loaded.contact_points.push((cp, source.name.clone()));
        }
        if let Some(value) = raw.policies {
            let line = source.text.lines().position(|l| l.starts_with("policies") || l.trim() == "[policies]").map(|n| n + 1);
            match serde_json::from_value::<Policies>(value) {
                Ok(p) => match &loaded.policies {
                    Some((_, other)) => problems.push(FileProblem {
                        file: source.name.clone(),
                        line,
                        message: format!("policies are already defined in {other}: one file holds them"),
                    }),
                    None => loaded.policies = Some((p, source.name.clone())),
                },
                Err(e) => problems.push(FileProblem { file: source.name.clone(), line, message: format!("policies: {e}") }),
            }
        }
    }
    // Names are unique across files.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (spec, source) in &loaded.rules {
        if let Some(first) = seen.insert(&spec.name, source) {
            problems.push(FileProblem { file: source.clone(), line: None, message: format!("rule {:?} is also defined in {first}", spec.name) });
        }
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (cp, source) in &loaded.contact_points {
        if let Some(first) = seen.insert(&cp.name, source) {
            problems.push(FileProblem { file: source.clone(), line: None, message: format!("contact point {:?} is also defined in {first}", cp.name) });
        }
    }
    if loaded.rules.len() > MAX_RULES {
        problems.push(FileProblem { file: "rules".into(), line: None, message: format!("{} rules: at most {MAX_RULES}", loaded.rules.len()) });
    }
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, text: &str) -> Source {
        Source { name: name.into(), text: text.into() }
    }

    #[test]
    fn a_good_file_loads_rules_contact_points_and_policies() {
        let yaml = r#"
rules:
  - name: payment errors
    kind: threshold
    query: 'level:error service:payment-service | stats count() as n'
    condition: n > 50
    labels: {team: payments, severity: critical}
    annotations:
      summary: '결제 오류 {{ value }}건'
  - name: error rate
    kind: red
    service: '*'
    metric: error_rate
    threshold: 0.1
contact_points:
  - name: hook
    kind: webhook
    url: http://127.0.0.1:9999/hook
policies:
  receiver: hook
"#;
        let loaded = load(&[source("rules/a.yaml", yaml)]).unwrap();
        assert_eq!(loaded.rules.len(), 2);
        assert_eq!(loaded.contact_points.len(), 1);
        assert!(loaded.policies.is_some());
        let toml = "[[rules]]\nname = \"t\"\nkind = \"red\"\nmetric = \"latency_p95\"\nthreshold = 500\n";
        assert_eq!(load(&[source("b.toml", toml)]).unwrap().rules.len(), 1);
    }

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let yaml = "rules:
  - name: ok
    kind: red
    metric: error_rate
    threshold: 0.1
  - name: bad query
    kind: threshold
    query: 'level:error | stats count( as n'
    condition: n > 1
  - name: bad kind
    kind: sometimes
contact_points:
  - name: x
    kind: webhook
    url: ftp://nope
";
        let problems = load(&[source("r.yaml", yaml)]).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert_eq!(problems[0].line, Some(8), "{}", problems[0]);
        assert!(problems[0].to_string().starts_with("r.yaml:8: rule \"bad query\": query:"), "{}", problems[0]);
        assert_eq!(problems[1].line, Some(10));
        assert_eq!(problems[2].line, Some(13));
        let problems = load(&[source("s.yaml", "rules: [\n")]).unwrap_err();
        assert!(problems[0].line.is_some());
        let problems = load(&[source("t.yaml", "rulez: []\n")]).unwrap_err();
        assert!(problems[0].message.contains("rulez"));
    }

    #[test]
    fn names_are_unique_across_files() {
        let a = "rules:\n  - {name: x, kind: absence}\n";
        let problems = load(&[source("a.yaml", a), source("b.yaml", a)]).unwrap_err();
        assert!(problems[0].message.contains("also defined in a.yaml"));
    }
}
