//! Fleet-wide root cause on simulated incidents whose truth is known.
//!
//! Each run writes a fleet's traffic into a real store: ten minutes of baseline first, then a
//! ten-minute window whose fault begins two minutes in; some of it is flushed to segments and
//! the rest stays in the buffer. The analysis sees only what was stored; the simulator's truth
//! (`Scenario::expected_cause`) is compared with its answer afterwards. Every fault kind must be
//! named at the top, for several seeds and at 50 and 1,000 services; the control, with only
//! the fleet's steady noise (a service failing a steady 5 %, a steady ERROR log line), must
//! answer "nothing unusual".

use std::time::Duration;

use trawl_fleet::{Fleet, FleetConfig, Scenario};
use trawl_query::{ChangeKind, RootCauseReport, RootCauseRequest};
use trawl_storage::{Store, StoreConfig};
use trawl_trace::CauseStatus;

const MIN: i64 = 60_000_000_000;
/// 2026-11-02 10:00 UTC.
const T0: i64 = 1_793_613_600 * 1_000_000_000;

struct Run {
    report: RootCauseReport,
    _dir: tempfile::TempDir,
}

/// Writes 20 minutes of `rate` requests per second and asks for the root cause of the last 10.
fn run(scenario: Scenario, services: usize, seed: u64, rate: i64) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    fill(&store, scenario, services, seed, rate);
    let report = ask(&store);
    Run { report, _dir: dir }
}

fn ask(store: &Store) -> RootCauseReport {
    let query = trawl_query::parse("").unwrap();
    let request = RootCauseRequest { query: &query, start_ns: T0 + 10 * MIN, end_ns: T0 + 20 * MIN, max_traces: 300, service: None };
    trawl_query::root_cause(store, &request).unwrap()
}

/// Writes the traffic; returns the number of spans and records of the window's requests.
fn fill(store: &Store, scenario: Scenario, services: usize, seed: u64, rate: i64) -> usize {
    let mut fleet = Fleet::new(FleetConfig { services, seed, scenario, ..Default::default() });
    let step = 1_000_000_000 / rate;
    let (fault_start, end) = (T0 + 12 * MIN, T0 + 20 * MIN);
    let (mut spans, mut records) = (Vec::new(), Vec::new());
    let mut t = T0;
    let mut flushed_baseline = false;
    let mut in_window = 0;
    while t < end {
        let (s, r) = fleet.request(t, t >= fault_start);
        if t >= T0 + 10 * MIN {
            in_window += s.len() + r.len();
        }
        spans.extend(s);
        records.extend(r);
        if spans.len() >= 20_000 {
            store.write_blocking(std::mem::take(&mut records), std::mem::take(&mut spans)).unwrap();
        }
        // The baseline and the first minutes of the window in segments, the rest in the buffer.
        if !flushed_baseline && t >= T0 + 14 * MIN {
            store.write_blocking(std::mem::take(&mut records), std::mem::take(&mut spans)).unwrap();
            assert!(store.flush(Duration::from_secs(60)));
            flushed_baseline = true;
        }
        t += step;
    }
    store.write_blocking(records, spans).unwrap();
    in_window
}

fn describe(report: &RootCauseReport) -> String {
    let mut out = format!("{} | phases {:?}\n", report.summary, report.phases);
    for c in report.causes.iter().take(6) {
        out.push_str(&format!(
            "  {:?} {:?} {} `{}` score {:.1} via {:?} version {:?} window {:?} baseline {:?}\n    explains {:?}\n",
            c.status,
            c.change,
            c.service,
            c.operation,
            c.score,
            c.via,
            c.version_specific,
            c.window,
            c.baseline,
            c.explains.iter().map(|a| format!("{} `{}` {} {:?} z={:.1}", a.service, a.operation, a.kind, a.change, a.z)).collect::<Vec<_>>()
        ));
    }
    out
}

fn check(scenario: Scenario, services: usize, seed: u64) {
    let Run { report, .. } = run(scenario, services, seed, 3);
    let text = describe(&report);
    eprintln!("{} services={services} seed={seed}: {text}", scenario.name());
    match scenario.expected_cause() {
        None => {
            assert!(!report.unusual, "{text}");
            assert_eq!(report.summary, "nothing unusual");
            assert!(report.causes.iter().all(|c| matches!(c.status, CauseStatus::Steady | CauseStatus::Shrunk)), "{text}");
        }
        Some((service, operation)) => {
            assert!(report.unusual, "{text}");
            let top = &report.causes[0];
            assert_eq!((top.service.as_str(), top.operation.as_str()), (service, operation), "{text}");
            assert!(matches!(top.status, CauseStatus::New | CauseStatus::Grown), "{text}");
            assert!(top.score >= 4.5, "{text}");
            let change = top.change;
            match scenario {
                Scenario::SlowDependency | Scenario::LatencyRegression => assert_eq!(change, ChangeKind::Latency, "{text}"),
                Scenario::LogOnly => {
                    assert_eq!(change, ChangeKind::LogErrors, "{text}");
                    assert!(top.patterns[0].template.contains("카드 승인 거절"), "{text}");
                }
                Scenario::Partition => {
                    assert_eq!(change, ChangeKind::FailedCalls, "{text}");
                    assert_eq!(top.via, vec!["order-service".to_string()], "{text}");
                }
                Scenario::BadDeploy => {
                    assert_eq!(change, ChangeKind::Version, "{text}");
                    assert_eq!(top.version_specific.as_deref(), Some("2.5.0-canary"), "{text}");
                }
                Scenario::PaymentTimeout | Scenario::DbSlow | Scenario::Cascade => {
                    assert!(!top.via.is_empty(), "an uninstrumented callee is named by its callers: {text}");
                }
                _ => {}
            }
            assert!(top.version_specific.is_none() || scenario == Scenario::BadDeploy, "{text}");
            // The answer carries evidence: an example trace for what fails, the callers affected
            // for what propagates.
            if change != ChangeKind::Latency {
                assert!(!top.example_trace_id.is_empty(), "{text}");
            }
            if matches!(scenario, Scenario::SlowDependency | Scenario::Partition | Scenario::PaymentTimeout) {
                assert!(top.explains.iter().any(|a| a.service == "gateway"), "the failing entry point is evidence: {text}");
            }
        }
    }
}

fn all_seeds(scenario: Scenario) {
    for seed in [1, 2, 3] {
        check(scenario, 50, seed);
    }
}

#[test]
fn slow_dependency_with_ok_spans() {
    all_seeds(Scenario::SlowDependency);
}

#[test]
fn failure_only_in_korean_logs() {
    all_seeds(Scenario::LogOnly);
}

#[test]
fn uninstrumented_third_party_api_timing_out() {
    all_seeds(Scenario::PaymentTimeout);
}

#[test]
fn uninstrumented_database_and_cache() {
    for seed in [1, 2] {
        check(Scenario::DbSlow, 50, seed);
        check(Scenario::Cascade, 50, seed);
    }
}

#[test]
fn connection_refused_partition() {
    all_seeds(Scenario::Partition);
}

#[test]
fn bad_deploy_of_one_version() {
    all_seeds(Scenario::BadDeploy);
}

#[test]
fn pool_exhaustion_failing_fast() {
    all_seeds(Scenario::PoolExhaustion);
}

#[test]
fn latency_only_regression() {
    all_seeds(Scenario::LatencyRegression);
}

#[test]
fn control_with_noisy_services_is_quiet() {
    for seed in [1, 2, 3, 4, 5] {
        check(Scenario::None, 50, seed);
    }
}

#[test]
fn every_fault_kind_at_1000_services() {
    for seed in [7, 8] {
        for scenario in Scenario::ALL {
            check(scenario, 1000, seed);
        }
    }
}

/// Accuracy per fault kind over many seeds (run with `--ignored --nocapture`; the seeds and the
/// fleet size from `TRAWL_RC_SEEDS`, default 20, and `TRAWL_RC_SERVICES`, default 50).
#[test]
#[ignore]
fn accuracy_over_many_seeds() {
    let seeds: u64 = std::env::var("TRAWL_RC_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let services: usize = std::env::var("TRAWL_RC_SERVICES").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let mut lines = Vec::new();
    for scenario in Scenario::ALL {
        let mut right = 0;
        let mut elapsed = Vec::new();
        for seed in 100..100 + seeds {
            let Run { report, .. } = run(scenario, services, seed, 3);
            elapsed.push(report.elapsed_ms);
            let ok = match scenario.expected_cause() {
                None => !report.unusual,
                Some((service, operation)) => {
                    report.unusual && report.causes.first().is_some_and(|c| c.service == service && c.operation == operation)
                }
            };
            if ok {
                right += 1;
            } else {
                eprintln!("{} seed {seed}: {}", scenario.name(), describe(&report));
            }
        }
        elapsed.sort_by(f64::total_cmp);
        lines.push(format!("{:<20} {right}/{seeds}  median {:.0} ms", scenario.name(), elapsed[elapsed.len() / 2]));
    }
    eprintln!("services={services}\n{}", lines.join("\n"));
}

/// The speed figure: a 10-minute window over 1,000 services with at least 10 million spans and
/// records in it, after a baseline as large (run with `--ignored --nocapture`, in a release
/// build for the figure that counts; `TRAWL_RC_RATE` requests per second, default 450).
#[test]
#[ignore]
fn speed_over_ten_million_items() {
    let rate: i64 = std::env::var("TRAWL_RC_RATE").ok().and_then(|s| s.parse().ok()).unwrap_or(450);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let started = std::time::Instant::now();
    let in_window = fill(&store, Scenario::PaymentTimeout, 1000, 11, rate);
    assert!(store.flush(Duration::from_secs(600)));
    let stats = store.stats();
    eprintln!(
        "written in {:.0} s: {in_window} spans and records in the window, {} segments, {} MB",
        started.elapsed().as_secs_f64(),
        stats.n_segments,
        stats.segment_bytes / 1_000_000
    );
    for attempt in 0..4 {
        let report = ask(&store);
        eprintln!("attempt {attempt}: {:.0} ms, {} | phases {:?}", report.elapsed_ms, report.summary, report.phases);
    }
}
