//! Every example in docs/query-language.md parses, and every documented error is the one given.

use std::path::PathBuf;

fn doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/query-language.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of every fenced block opened with "```{tag}".
fn blocks(text: &str, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if inside {
            if line.starts_with("```") {
                inside = false;
            } else if !line.trim().is_empty() {
                out.push(line.to_string());
            }
        } else if line.trim_end() == format!("```{tag}") {
            inside = true;
        }
    }
    out
}

#[test]
fn documented_examples_parse() {
    let examples = blocks(&doc(), "trawl");
    assert!(examples.len() >= 25, "only {} examples found", examples.len());
    for q in examples {
        if let Err(e) = trawl_query::parse(&q) {
            panic!("documented example {q:?} does not parse: {e}");
        }
    }
}

#[test]
fn documented_errors_are_exact() {
    let cases = blocks(&doc(), "trawl-error");
    assert!(cases.len() >= 5);
    for case in cases {
        let (q, expected) = case.split_once(" → ").unwrap_or_else(|| panic!("{case:?} lacks \" → \""));
        match trawl_query::parse(q) {
            Ok(_) => panic!("{q:?} should fail with {expected:?}"),
            Err(e) => assert_eq!(e.to_string(), expected, "for {q:?}"),
        }
    }
}

#[test]
fn documented_sql_runs() {
    let examples = blocks(&doc(), "sql");
    assert!(examples.len() >= 4);
    let dir = tempfile::tempdir().unwrap();
    let store = trawl_storage::Store::open(trawl_storage::StoreConfig::new(dir.path())).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for sql in examples {
        assert!(trawl_query::is_sql(&sql), "{sql}");
        let request = trawl_query::SqlRequest { sql: &sql, start_ns: i64::MIN, end_ns: i64::MAX, limit: 10, limits: trawl_query::QueryLimits::default() };
        if let Err(e) = runtime.block_on(trawl_query::run_sql(&store.snapshot(), &request)) {
            panic!("documented SQL {sql:?} fails: {e}");
        }
    }
}
