//! Golden cases: `tests/golden/*.txt` hold a query and the exact output it must give over a
//! fixed, generated data set (half in segments, half in the buffer).
//!
//! Refresh every expected output after an intended change with
//! `TRAWL_BLESS=1 cargo test -p trawl-query --test golden`, then review the diff.

use std::path::{Path, PathBuf};
use std::time::Duration;

use trawl_model::{AttrValue, Level, Record, Span, SpanKind, StatusCode};
use trawl_query::{run_query, QueryLimits, QueryOutput, QueryRequest};
use trawl_storage::{Store, StoreConfig};

/// 2026-11-21T10:00:00Z.
const T0: i64 = 1_795_255_200_000_000_000;
const SEC: i64 = 1_000_000_000;

const SERVICES: [&str; 4] = ["checkout", "payment", "web", "inventory"];
const ROUTES: [&str; 3] = ["/api/pay", "/api/cart", "/health"];

/// Deterministic messages: English, Korean (inflected forms), mixed scripts and emoji.
fn message(i: i64) -> (Level, String) {
    match i % 20 {
        0 => (Level::Error, format!("결제가 실패했습니다 order=ORD-{i} reason=timeout")),
        1 => (Level::Warn, format!("결제 승인 지연 {}ms", 100 + i % 900)),
        2 => (Level::Error, format!("사용자 user-{} 로그인 실패 🔥", i % 50)),
        3 => (Level::Info, format!("주문 ORD-{i} 배송 시작")),
        4 => (Level::Error, format!("upstream read timeout after {}ms calling third-party-payment-api", 3000 + i % 7)),
        5 => (Level::Debug, "cache miss for key cart:42".to_string()),
        6 => (Level::Error, "카드결제오류 (code=E42) 😱 retrying".to_string()),
        _ => (Level::Info, format!("request {i} done in {}ms", i % 300)),
    }
}

fn dataset() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let mut halves = [Vec::new(), Vec::new()];
    let mut spans = Vec::new();
    for i in 0..2000i64 {
        let (level, body) = message(i);
        let mut r = Record::new(T0 + i * 1_800_000_000);
        r.service = SERVICES[(i % 4) as usize].to_string();
        r.host = format!("node-{}", i % 3);
        r.environment = "prod".into();
        r.level = level;
        r.body = body;
        r.trace_id = format!("{:032x}", i / 10);
        r.span_id = format!("{:016x}", i);
        r.attributes = vec![
            ("http.route".into(), AttrValue::Str(ROUTES[(i % 3) as usize].into())),
            ("status".into(), AttrValue::Int(if level >= Level::Error { 500 + i % 4 } else { 200 })),
            ("duration_ms".into(), AttrValue::Float((i % 97) as f64 * 1.5)),
            ("user.id".into(), AttrValue::Str(format!("user-{}", i % 50))),
        ];
        r.resource = vec![("service.version".into(), AttrValue::Str(if i % 40 == 0 { "2.5.0-canary".into() } else { "2.4.1".into() }))];
        halves[(i >= 1000) as usize].push(r);
        if i % 10 == 0 {
            spans.push(Span {
                trace_id: format!("{:032x}", i / 10),
                span_id: format!("{:016x}", 100_000 + i),
                parent_span_id: String::new(),
                service: "web".into(),
                environment: "prod".into(),
                host: "node-0".into(),
                name: "GET /api/pay".into(),
                kind: SpanKind::Server,
                start_ns: T0 + i * 1_800_000_000 - 1_000_000,
                duration_ns: (i % 13 + 1) * 1_000_000,
                status_code: if i % 20 == 0 { StatusCode::Error } else { StatusCode::Ok },
                status_message: String::new(),
                attributes: Vec::new(),
                resource: Vec::new(),
                events: Vec::new(),
                links: Vec::new(),
            });
        }
    }
    let [first, second] = halves;
    store.write_blocking(first, spans).unwrap();
    assert!(store.flush(Duration::from_secs(10)));
    store.write_blocking(second, Vec::new()).unwrap();
    (dir, store)
}

/// Output as text: records as `time level service body`, tables as ` | `-separated rows.
fn render(store: &Store, query: &str) -> String {
    let parsed = match trawl_query::parse(query) {
        Ok(q) => q,
        Err(e) => return format!("error: {e}\n"),
    };
    let (start, end) = parsed.effective_range(0, i64::MAX, T0 + 3600 * SEC);
    let request = QueryRequest { query: &parsed, start_ns: start, end_ns: end, limit: 20, limits: QueryLimits::default(), cancel: None };
    let result = match run_query(&store.snapshot(), &request) {
        Ok(r) => r,
        Err(e) => return format!("error: {e}\n"),
    };
    let mut out = String::new();
    match result.output {
        QueryOutput::Records(records) => {
            for r in records {
                out += &format!("{} {} {} {}\n", trawl_model::format_rfc3339(r.time_ns), r.level.as_str(), r.service, r.body);
            }
        }
        QueryOutput::Table(t) => {
            out += &t.columns.join(" | ");
            out.push('\n');
            for row in &t.rows {
                out += &row.iter().map(|v| v.to_text()).collect::<Vec<_>>().join(" | ");
                out.push('\n');
            }
        }
    }
    if result.truncated {
        out += "(truncated)\n";
    }
    out
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn golden_cases() {
    let (_dir, store) = dataset();
    let bless = std::env::var_os("TRAWL_BLESS").is_some();
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(cases_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "txt")).collect();
    paths.sort();
    assert!(paths.len() >= 20, "only {} golden cases", paths.len());
    let mut failures = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let (head, expected) = text.split_once("\n---\n").unwrap_or((text.as_str(), ""));
        let query = head.lines().find_map(|l| l.strip_prefix("query: ")).unwrap_or_else(|| panic!("{}: no query line", path.display()));
        let actual = render(&store, query);
        if actual != expected {
            if bless {
                std::fs::write(&path, format!("{head}\n---\n{actual}")).unwrap();
            } else {
                failures.push(format!("{}: {query}\n--- expected\n{expected}--- actual\n{actual}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} golden cases differ (TRAWL_BLESS=1 refreshes):\n\n{}", failures.len(), failures.join("\n"));
}
