//! Queries of death against the query language and the SQL entry point: each is refused with a
//! reason naming its limit (or answered), never a stack overflow, never a value built past the
//! memory cap. The random inputs are a fuzzer in miniature: `TRAWL_FUZZ_CASES` raises their
//! number for a long run (`cargo test --release -p trawl-query --test hostile -- --ignored`).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use trawl_model::{Level, Record};
use trawl_query::{check_sql, parse, run_sql, QueryError, QueryLimits, QueryOutput, SqlRequest, Value};
use trawl_storage::{Store, StoreConfig};

/// Runs `f` on a thread with the stack the server's query threads have.
fn on_query_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(16 << 20).spawn(f).expect("thread").join().expect("no panic")
}

fn syntax(r: Result<trawl_query::Query, QueryError>) -> String {
    match r {
        Err(e @ QueryError::Syntax { .. }) => e.to_string(),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn long_chains_in_where_are_refused_by_count_not_by_the_stack() {
    on_query_stack(|| {
        let ors = format!("| where {}", vec!["a = 1"; 100_000].join(" or "));
        assert!(syntax(parse(&ors)).contains("more than 10000 terms"));
        let ands = format!("| where {}", vec!["a = 1"; 100_000].join(" and "));
        assert!(syntax(parse(&ands)).contains("more than 10000 terms"));
        let sum = format!("| where x = {}", vec!["1"; 100_000].join("+"));
        assert!(syntax(parse(&sum)).contains("too deep"));
        let search = vec!["a"; 100_000].join(" OR ");
        assert!(syntax(parse(&search)).contains("more than 4096 terms"));
        // Under the limits, a long OR chain is a shallow tree and evaluates.
        let ok = format!("| where {}", (0..4000).map(|i| format!("n = {i}")).collect::<Vec<_>>().join(" or "));
        assert!(parse(&ok).is_ok());
        let ok_sum = format!("| where x = {}", vec!["1"; 200].join("+"));
        assert!(parse(&ok_sum).is_ok());
    });
}

#[test]
fn long_phrases_are_refused_up_front() {
    let phrase = format!("\"{}\"", "결제 실패 ".repeat(20_000));
    assert!(syntax(parse(&phrase)).contains("longer than the limit of 4096 bytes"));
    let word = "x".repeat(5_000);
    assert!(syntax(parse(&word)).contains("longer than the limit"));
    let text = format!("| where body contains \"{}\"", "y".repeat(5_000));
    assert!(syntax(parse(&text)).contains("longer than the limit"));
}

#[test]
fn sql_too_deep_or_too_long_is_refused_before_parsing() {
    on_query_stack(|| {
        let ors = format!("SELECT * FROM logs WHERE {}", vec!["level = 'ERROR'"; 60_000].join(" OR "));
        assert!(check_sql(&ors).unwrap_err().to_string().contains("too deep"));
        let sum = format!("SELECT {}", vec!["1"; 200_000].join("+"));
        assert!(check_sql(&sum).unwrap_err().to_string().contains("too deep"));
        let nested = format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(check_sql(&nested).unwrap_err().to_string().contains("deeper than 48"));
        let casts = format!("SELECT 1{}", "::int".repeat(5_000));
        assert!(check_sql(&casts).unwrap_err().to_string().contains("too deep"));
        let unions = vec!["SELECT 1"; 5_000].join(" UNION ALL ");
        assert!(check_sql(&unions).unwrap_err().to_string().contains("too deep"));
        assert!(check_sql("SELECT service, count(*) FROM logs WHERE level IN ('ERROR', 'WARN') GROUP BY service").is_ok());
    });
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let records: Vec<Record> = (0..200)
        .map(|i| {
            let mut r = Record::new(1_795_255_200_000_000_000 + i * 1_000_000_000);
            r.service = "checkout".into();
            r.level = if i % 5 == 0 { Level::Error } else { Level::Info };
            r.body = format!("결제가 실패했습니다 {i}");
            r
        })
        .collect();
    store.write_blocking(records, Vec::new()).unwrap();
    (dir, store)
}

fn sql(store: &Store, text: &str, memory: usize) -> Result<Vec<Vec<Value>>, QueryError> {
    let snapshot = store.snapshot();
    let text = text.to_string();
    on_query_stack(move || {
        let request = SqlRequest {
            sql: &text,
            start_ns: i64::MIN,
            end_ns: i64::MAX,
            limit: 100,
            limits: QueryLimits { timeout: Duration::from_secs(30), memory_bytes: memory },
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run_sql(&snapshot, &request)).map(|r| match r.output {
            QueryOutput::Table(t) => t.rows,
            QueryOutput::Records(_) => unreachable!("sql answers tables"),
        })
    })
}

fn too_large(r: Result<Vec<Vec<Value>>, QueryError>) -> String {
    match r {
        Err(QueryError::TooLarge(reason)) => reason,
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn functions_that_build_huge_values_are_refused_before_building_them() {
    let (_dir, store) = store();
    let memory = 256 << 20;
    for (query, what) in [
        ("SELECT repeat('a', 1000000000)", "repeat()"),
        ("SELECT lpad('a', 2000000000)", "lpad()"),
        ("SELECT rpad(body, 100000000, 'xy') FROM logs", "rpad()"),
        ("SELECT replace(repeat('a', 100000), 'a', repeat('b', 100000))", "replace()"),
        ("SELECT regexp_replace(repeat('a', 100000), '.', repeat('c', 1000))", "regexp_replace()"),
    ] {
        let started = Instant::now();
        let reason = too_large(sql(&store, query, memory));
        assert!(reason.contains(what) && reason.contains("over the limit"), "{query}: {reason}");
        assert!(started.elapsed() < Duration::from_secs(20), "{query} took {:?}", started.elapsed());
    }
    // `||` doubling a value step by step: refused once a value would pass 16 MiB.
    let mut doubling = String::from("WITH s0 AS (SELECT repeat('x', 1000000) AS v)");
    for i in 1..=12 {
        doubling.push_str(&format!(", s{i} AS (SELECT v || v AS v FROM s{})", i - 1));
    }
    doubling.push_str(" SELECT length(v) FROM s12");
    assert!(too_large(sql(&store, &doubling, memory)).contains("||"));
    // Over a batch: each value small, the batch too large for the query's cap.
    assert!(too_large(sql(&store, "SELECT repeat(body, 50000) FROM logs", 8 << 20)).contains("over one batch"));
}

#[test]
fn bounded_functions_answer_as_before() {
    let (_dir, store) = store();
    let rows = sql(
        &store,
        "SELECT repeat('ab', 3), lpad('7', 3, '0'), 'a' || NULL, concat('a', NULL, 'b'), 'x' || 'y' || 1, replace('결제 실패', '실패', '성공') FROM logs LIMIT 1",
        64 << 20,
    )
    .unwrap();
    assert_eq!(
        rows[0],
        vec![
            Value::Str("ababab".into()),
            Value::Str("007".into()),
            Value::Null,
            Value::Str("ab".into()),
            Value::Str("xy1".into()),
            Value::Str("결제 성공".into()),
        ]
    );
    let rows = sql(&store, "SELECT count(*) FROM logs WHERE body || '!' LIKE '%실패했습니다 1!'", 64 << 20).unwrap();
    assert_eq!(rows[0][0], Value::Int(1));
}

#[test]
fn an_answer_larger_than_the_cap_is_refused() {
    let (_dir, store) = store();
    let reason = too_large(sql(&store, "SELECT repeat(body, 4000) AS b FROM logs", 16 << 20));
    assert!(reason.contains("bytes"), "{reason}");
}

/// Tokens from which random queries are built: the grammar's pieces, deep openers, quotes
/// left open, Hangul, operators in odd places.
const PIECES: &[&str] = &[
    "(", ")", "(", ")", "\"", "'", "`", "|", " | where ", " | stats ", " count() ", " by ", " sort ", " limit ", " traces ", " patterns ",
    " top ", " OR ", " AND ", " NOT ", " or ", " and ", " not ", "-", "+", "*", "/", "%", "=", "!=", ">=", "<", " in (", ",", ":",
    "service:", "level:error", "_time:", "[", "]", " TO ", "/a+/", "/", "\\", "결제", "실패", "x", "1", "1e309", "-0", "*", " ", "\n",
    "p95(", "bin(time, 1m)", "uniq(", "null", "true",
];

const SQL_PIECES: &[&str] = &[
    "SELECT ", "(", ")", "(", ")", " FROM logs ", " WHERE ", " OR ", " AND ", " NOT ", "+", "-", "*", "/", "||", "::int", " UNION ALL ",
    " JOIN ", "'", "\"", "1", "body", ",", " IN (", " CASE WHEN ", " THEN ", " END ", "repeat('a', 3)", " LIMIT 1", ";", "결제", " ",
];

fn random_text(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pieces), 0..max).prop_map(|v| v.concat())
}

/// A run of one piece repeated: the deep and wide inputs.
fn repeated(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    (prop::sample::select(pieces), 1usize..20_000, prop::sample::select(pieces)).prop_map(|(a, n, b)| format!("{}{b}", a.repeat(n)))
}

fn cases() -> u32 {
    std::env::var("TRAWL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics_or_overflows(text in prop_oneof![random_text(PIECES, 200), repeated(PIECES)]) {
        let _ = on_query_stack(move || parse(&text).map(|_| ()).map_err(|e| e.to_string()));
    }

    #[test]
    fn the_sql_check_never_panics_or_overflows(text in prop_oneof![random_text(SQL_PIECES, 200), repeated(SQL_PIECES)]) {
        let _ = on_query_stack(move || check_sql(&text).map_err(|e| e.to_string()));
    }
}

/// What passes the check also plans without overflowing the stack: the check's limits leave
/// DataFusion margin on the query threads.
#[test]
fn what_the_sql_check_lets_through_plans() {
    let (_dir, store) = store();
    let ors = format!("SELECT count(*) FROM logs WHERE {}", (0..500).map(|i| format!("body = 'b{i}'")).collect::<Vec<_>>().join(" OR "));
    check_sql(&ors).unwrap();
    assert_eq!(sql(&store, &ors, 64 << 20).unwrap()[0][0], Value::Int(0));
    let sum = format!("SELECT {}", vec!["1"; 500].join("+"));
    check_sql(&sum).unwrap();
    assert_eq!(sql(&store, &sum, 64 << 20).unwrap()[0][0], Value::Int(500));
    let nested = format!("SELECT {}1{}", "(".repeat(40), ")".repeat(40));
    assert_eq!(sql(&store, &nested, 64 << 20).unwrap()[0][0], Value::Int(1));
}
