//! Searches answered through segments' row indexes give exactly the answers of the same
//! searches over the same segments without them (read row group by row group, the path of
//! segments written before format version 4): on generated data in small row groups, for fixed
//! and random queries of words, Korean phrases, ids, services, levels, attributes, OR and NOT.

use std::time::Duration;

use proptest::prelude::*;
use trawl_model::{AttrValue, Level, Record};
use trawl_query::{run_query, QueryLimits, QueryOutput, QueryRequest};
use trawl_storage::{Store, StoreConfig};

const T0: i64 = 1_795_255_200_000_000_000;
const SERVICES: [&str; 5] = ["checkout", "payment-service", "web", "inventory", "Auth"];
const LEVELS: [Level; 4] = [Level::Debug, Level::Info, Level::Warn, Level::Error];
const WORDS: [&str; 12] = ["timeout", "read_timeout=3s", "TimeoutError", "결제 실패", "결제가 실패했습니다", "미결제 실패 건", "order", "cache miss", "retry", "upstream", "카드", "done"];

/// A deterministic record from a seed: its words, ids and attributes drawn from small sets, so
/// queries hit, miss and overlap.
fn record(i: u64, seed: u64) -> Record {
    let mut x = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut r = Record::new(T0 + i as i64 * 1_000_000_000 + next(900) as i64);
    r.service = SERVICES[next(5) as usize].to_string();
    r.level = LEVELS[next(4) as usize];
    let words: Vec<&str> = (0..1 + next(3)).map(|_| WORDS[next(12) as usize]).collect();
    r.body = format!("{} id={} n{}", words.join(" "), i, next(40));
    r.trace_id = format!("{:032x}", i / 7 + next(2) * 1000);
    r.span_id = format!("{:016x}", i);
    r.attributes = vec![("user.id".into(), AttrValue::Str(format!("user-{}", next(30)))), ("status".into(), AttrValue::Int(200 + next(4) as i64 * 100))];
    if next(5) == 0 {
        r.attributes.push(("note".into(), AttrValue::Str(WORDS[next(12) as usize].into())));
    }
    r
}

fn config(dir: &std::path::Path) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.row_group_rows = 64;
    c
}

fn answers(store: &Store, queries: &[String]) -> Vec<String> {
    let snapshot = store.snapshot();
    queries
        .iter()
        .map(|q| {
            let parsed = match trawl_query::parse(q) {
                Ok(p) => p,
                Err(e) => return format!("error: {e}"),
            };
            let request = QueryRequest { query: &parsed, start_ns: 0, end_ns: i64::MAX, limit: 30, limits: QueryLimits::default(), cancel: None };
            match run_query(&snapshot, &request).map(|r| r.output) {
                Ok(QueryOutput::Records(records)) => {
                    records.iter().map(|r| format!("{} {} {}", r.time_ns, r.service, r.body)).collect::<Vec<_>>().join("\n")
                }
                Ok(QueryOutput::Table(t)) => format!("{:?}", t.rows),
                Err(e) => format!("error: {e}"),
            }
        })
        .collect()
}

/// The answers to `queries` with the row indexes, then with them deleted.
fn with_and_without(seed: u64, queries: &[String]) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    for part in 0..3u64 {
        let records = (part * 700..(part + 1) * 700).map(|i| record(i, seed)).collect();
        store.write_blocking(records, Vec::new()).unwrap();
        assert!(store.flush(Duration::from_secs(10)));
    }
    let indexed = answers(&store, queries);
    let n_indexed = store.snapshot().segments.iter().filter(|s| s.row_index.is_some()).count();
    assert_eq!(n_indexed, 3, "every records segment has a row index");
    drop(store);
    let mut removed = 0;
    for entry in walk(dir.path()) {
        if entry.extension().is_some_and(|e| e == "postings") {
            std::fs::remove_file(&entry).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, 3);
    let store = Store::open(config(dir.path())).unwrap();
    assert!(store.snapshot().segments.iter().all(|s| s.row_index.is_none()));
    (indexed, answers(&store, queries))
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn fixed_queries_answer_the_same_with_and_without_row_indexes() {
    let queries: Vec<String> = [
        "timeout",
        "\"결제 실패\"",
        "결제",
        "service:payment-service level:error timeout",
        "service:auth",
        "level:warn OR level:error",
        "service:web OR service:checkout retry",
        "trace:00000000000000000000000000000011",
        "trace_id:000000000000000000000000000003e8 order",
        "span_id:00000000000000ff",
        "user.id:user-7",
        "user.id:user-7 -level:debug",
        "status:500 카드",
        "note:upstream",
        "-timeout cache",
        "id 1234",
        "absentword",
        "level:error | stats count() by service",
        "결제 | stats count() by level",
    ]
    .map(String::from)
    .to_vec();
    let (indexed, scanned) = with_and_without(7, &queries);
    for ((q, a), b) in queries.iter().zip(&indexed).zip(&scanned) {
        assert_eq!(a, b, "query {q}");
    }
    assert!(indexed[0].lines().count() == 30 && indexed[7].lines().count() > 0, "the data set has matches: {indexed:?}");
}

fn query_strategy() -> impl Strategy<Value = String> {
    let term = prop_oneof![
        (0..WORDS.len()).prop_map(|i| format!("\"{}\"", WORDS[i])),
        (0..WORDS.len()).prop_map(|i| WORDS[i].split(' ').next().unwrap().to_string()),
        (0..SERVICES.len()).prop_map(|i| format!("service:{}", SERVICES[i])),
        (0..LEVELS.len()).prop_map(|i| format!("level:{}", LEVELS[i].as_str())),
        (0..300u64).prop_map(|i| format!("trace:{:032x}", i)),
        (0..30u64).prop_map(|i| format!("user.id:user-{i}")),
        (0..40u64).prop_map(|i| format!("n{i}")),
    ];
    (proptest::collection::vec((term, 0..4u8), 1..4)).prop_map(|terms| {
        let mut q = String::new();
        for (i, (t, op)) in terms.into_iter().enumerate() {
            if i > 0 {
                q.push_str(if op == 1 { " OR " } else { " " });
            }
            if op == 2 {
                q.push('-');
            }
            q.push_str(&t);
        }
        q
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn random_queries_answer_the_same_with_and_without_row_indexes(seed in any::<u64>(), queries in proptest::collection::vec(query_strategy(), 25)) {
        let (indexed, scanned) = with_and_without(seed, &queries);
        for ((q, a), b) in queries.iter().zip(&indexed).zip(&scanned) {
            prop_assert_eq!(a, b, "query {}", q);
        }
    }
}
