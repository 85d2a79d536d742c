//! The whole pipeline on a real store, without the network: data in, a rule evaluated at chosen
//! times (a hand-moved clock), alert states, groups and the notifications put in the outbox,
//! across a restart.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use trawl_model::{Clock, Level, Record, Span, SpanKind, StatusCode};
use trawl_storage::{Store, StoreConfig};

use crate::engine::Alerting;
use crate::files::Source;
use crate::notification::{Notification, NotificationKind};
use crate::state::AlertState;
use crate::AlertConfig;

const S: i64 = 1_000_000_000;

/// A clock moved by the test.
struct HandClock(AtomicI64);

impl Clock for HandClock {
    fn now_ns(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl HandClock {
    fn advance(&self, by_ns: i64) {
        self.0.fetch_add(by_ns, Ordering::SeqCst);
    }
}

const FILE: &str = r#"
rules:
  - name: errors
    kind: threshold
    query: 'level:error | stats count() as n by service'
    condition: n > 2
    lookback: 2m
    delay: 0s
    labels: {severity: critical}
    annotations:
      summary: '{{ labels.service }}: {{ value | number }}건의 오류'
  - name: warnings
    kind: threshold
    query: 'level:warn | stats count() as n by service'
    condition: n > 2
    lookback: 2m
    delay: 0s
    labels: {severity: warning}
  - name: error rate
    kind: red
    service: '*'
    metric: error_rate
    threshold: 0.2
    min_requests: 5
    lookback: 2m
    delay: 0s
contact_points:
  - name: hook
    kind: webhook
    url: http://127.0.0.1:9/hook
policies:
  receiver: hook
  group_wait: 30s
  group_interval: 1m
  repeat_interval: 1h
  inhibit_rules:
    - source_matchers: [severity=critical]
      target_matchers: [severity=warning]
      equal: [service]
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    clock: Arc<HandClock>,
    alerting: Arc<Alerting>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !store.is_ready() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Half a minute past a minute (in the past): rollup rules read whole minutes, so the
        // spans written 70 s back are in the window whatever second the test starts at.
        let minute = 60 * S;
        let start = (trawl_model::now_ns() / minute) * minute - minute + 30 * S;
        let clock = Arc::new(HandClock(AtomicI64::new(start)));
        let alerting = open(&store, &clock);
        Fixture { _dir: dir, store, clock, alerting }
    }

    fn now(&self) -> i64 {
        self.clock.now_ns()
    }

    fn records(&self, service: &str, level: Level, n: usize, body: &str) {
        let now = self.now();
        let records: Vec<Record> = (0..n)
            .map(|i| {
                let mut r = Record::new(now - 10 * S + i as i64);
                r.service = service.into();
                r.level = level;
                r.body = format!("{body} order_id={i}");
                r
            })
            .collect();
        self.store.write_blocking(records, Vec::new()).unwrap();
    }

    fn spans(&self, service: &str, n: usize, errors: usize) {
        let now = self.now();
        let spans: Vec<Span> = (0..n)
            .map(|i| Span {
                trace_id: format!("{:032x}", now + i as i64),
                span_id: format!("{:016x}", i),
                parent_span_id: String::new(),
                service: service.into(),
                environment: String::new(),
                host: String::new(),
                name: "GET /pay".into(),
                kind: SpanKind::Server,
                start_ns: now - 70 * S + i as i64,
                duration_ns: 5_000_000,
                status_code: if i < errors { StatusCode::Error } else { StatusCode::Unset },
                status_message: String::new(),
                attributes: Vec::new(),
                resource: Vec::new(),
                events: Vec::new(),
                links: Vec::new(),
            })
            .collect();
        self.store.write_blocking(Vec::new(), spans).unwrap();
    }

    fn evaluate(&self) {
        for rule in ["errors", "warnings", "error rate"] {
            self.alerting.evaluate_rule(rule);
        }
        self.alerting.dispatch();
    }

    fn outbox(&self) -> Vec<Notification> {
        let mut rows = self.store.with_alert_tables(|t| t.recent_outbox(1000)).unwrap();
        rows.sort_by_key(|r| r.created_at_ns);
        rows.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect()
    }
}

fn open(store: &Arc<Store>, clock: &Arc<HandClock>) -> Arc<Alerting> {
    let config = AlertConfig {
        builtin: vec![Source { name: "rules.yaml".into(), text: FILE.into() }],
        public_url: "https://trawl.example.com".into(),
        ..Default::default()
    };
    let alerting = Alerting::open(store.clone(), clock.clone(), config).unwrap();
    assert!(alerting.file_problems().is_empty(), "{:?}", alerting.file_problems());
    alerting
}

#[test]
fn an_alert_waits_for_its_group_fires_once_survives_a_restart_and_resolves() {
    let mut f = Fixture::new();
    f.records("payment-service", Level::Error, 5, "결제 실패: 카드 승인 거절");
    f.records("auth-service", Level::Error, 1, "token expired");
    f.evaluate();
    let alerts = f.alerting.alerts(&[AlertState::Firing], None);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0].instance;
    assert_eq!(a.labels.get("service").map(String::as_str), Some("payment-service"));
    assert_eq!(a.annotations["summary"], "payment-service: 5건의 오류");
    assert_eq!(a.evidence_status, crate::state::EvidenceStatus::Ready);
    let evidence = a.evidence.as_ref().unwrap();
    assert_eq!(evidence.patterns.len(), 1, "{evidence:#?}");
    assert!(evidence.patterns[0].template.contains("결제 실패"));
    assert_eq!(evidence.patterns[0].samples.len(), 3);
    assert!(evidence.links.search.starts_with("https://trawl.example.com/search?q="));
    // group_wait: nothing yet.
    assert!(f.outbox().is_empty());
    f.clock.advance(31 * S);
    f.alerting.dispatch();
    let sent = f.outbox();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, NotificationKind::Firing);
    assert_eq!(sent[0].alerts[0].labels["service"], "payment-service");
    // Nothing changes: nothing more, even after a restart.
    f.clock.advance(10 * S);
    f.evaluate();
    assert_eq!(f.outbox().len(), 1);
    f.alerting = open(&f.store, &f.clock);
    assert_eq!(f.alerting.alerts(&[AlertState::Firing], None).len(), 1);
    f.evaluate();
    f.clock.advance(61 * S);
    f.evaluate();
    assert_eq!(f.outbox().len(), 1, "a restart must not notify again");
    // The errors leave the window: resolved, notified once after group_interval.
    f.clock.advance(3 * 60 * S);
    f.evaluate();
    let sent = f.outbox();
    assert_eq!(sent.len(), 2, "{:#?}", sent.iter().map(|n| n.title()).collect::<Vec<_>>());
    assert_eq!(sent[1].kind, NotificationKind::Resolved);
    assert_eq!(sent[1].alerts[0].status, "resolved");
    assert_eq!(sent[1].group_key, sent[0].group_key);
    assert_ne!(sent[1].id, sent[0].id);
    f.clock.advance(2 * 60 * S);
    f.evaluate();
    assert_eq!(f.outbox().len(), 2);
    // The same group fires again later: a new incident, a new notification (not the first
    // incident's id, which the outbox still holds).
    f.records("payment-service", Level::Error, 5, "결제 실패: 카드 승인 거절");
    f.evaluate();
    f.clock.advance(31 * S);
    f.alerting.dispatch();
    let sent = f.outbox();
    assert_eq!(sent.len(), 3, "{:#?}", sent.iter().map(|n| n.title()).collect::<Vec<_>>());
    assert_eq!(sent[2].kind, NotificationKind::Firing);
    assert!(sent[2].id != sent[0].id && sent[2].group_key == sent[0].group_key);
}

#[test]
fn warnings_are_inhibited_by_a_critical_alert_and_silences_mute() {
    let f = Fixture::new();
    f.records("payment-service", Level::Error, 5, "결제 실패");
    f.records("payment-service", Level::Warn, 5, "retrying charge");
    f.records("search-service", Level::Warn, 5, "slow index");
    let silence = f
        .alerting
        .add_silence(vec![crate::labels::Matcher::parse("service=search-service").unwrap()], None, f.now() + 3600 * S, "kim", "점검 중")
        .unwrap();
    f.evaluate();
    f.clock.advance(31 * S);
    f.alerting.dispatch();
    let sent = f.outbox();
    assert_eq!(sent.len(), 1, "{:#?}", sent.iter().map(|n| n.title()).collect::<Vec<_>>());
    assert_eq!(sent[0].alerts[0].rule, "errors");
    let views = f.alerting.alerts(&[AlertState::Firing], None);
    let warning = views.iter().find(|v| v.instance.rule == "warnings" && v.instance.labels["service"] == "payment-service").unwrap();
    assert!(warning.instance.inhibited_by.as_deref().unwrap().contains("inhibition rule"), "{warning:?}");
    let silenced = views.iter().find(|v| v.instance.labels["service"] == "search-service").unwrap();
    assert_eq!(silenced.silenced_by, vec![silence.id.clone()]);
    // Expiring the silence lets its alert be notified.
    f.alerting.expire_silence(&silence.id).unwrap();
    f.clock.advance(31 * S);
    f.alerting.dispatch();
    let sent = f.outbox();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].alerts[0].labels["service"], "search-service");
}

#[test]
fn a_red_rule_reads_the_rollups_and_acknowledgement_stops_repeats() {
    let f = Fixture::new();
    f.spans("payment-service", 20, 10);
    f.spans("auth-service", 20, 0);
    f.evaluate();
    let firing: Vec<_> = f.alerting.alerts(&[AlertState::Firing], Some("error rate"));
    assert_eq!(firing.len(), 1, "{firing:#?}");
    let a = &firing[0].instance;
    assert!((a.value - 0.5).abs() < 1e-9);
    assert_eq!(a.threshold, Some(0.2));
    assert_eq!(a.scope.metric, "error_rate");
    f.clock.advance(31 * S);
    f.alerting.dispatch();
    assert_eq!(f.outbox().len(), 1);
    f.alerting.acknowledge(&a.fingerprint, "kim", "보고 있음").unwrap();
    let sent = f.outbox();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].kind, NotificationKind::Acknowledged);
    assert_eq!(sent[1].acknowledged_by.as_deref(), Some("kim"));
    // Acknowledged: the repeat interval passes without a repeat.
    f.clock.advance(61 * 60 * S);
    f.spans("payment-service", 20, 10);
    f.evaluate();
    let sent = f.outbox();
    assert_eq!(sent.len(), 2, "{:#?}", sent.iter().map(|n| (n.kind, n.title())).collect::<Vec<_>>());
}

#[test]
fn rules_through_the_api_are_checked_versioned_and_kept_apart_from_files() {
    let f = Fixture::new();
    let spec: crate::RuleSpec = serde_yaml_ng::from_str("name: api rule\nkind: absence\nservice: x\n").unwrap();
    let view = f.alerting.put_rule(spec.clone(), false).unwrap();
    assert_eq!((view.version, view.source.as_str()), (1, "api"));
    assert!(matches!(f.alerting.put_rule(spec.clone(), false), Err(crate::AlertError::Conflict(_))));
    assert_eq!(f.alerting.put_rule(spec, true).unwrap().version, 2);
    let from_file: crate::RuleSpec = serde_yaml_ng::from_str("name: errors\nkind: absence\n").unwrap();
    assert!(matches!(f.alerting.put_rule(from_file, true), Err(crate::AlertError::Conflict(m)) if m.contains("rules.yaml")));
    let bad: crate::RuleSpec = serde_yaml_ng::from_str("name: bad\nkind: threshold\nquery: 'a | stats'\ncondition: n > 1\n").unwrap();
    assert!(matches!(f.alerting.put_rule(bad, false), Err(crate::AlertError::Invalid(p)) if p[0].field == "query"));
    f.alerting.delete_rule("api rule").unwrap();
    assert_eq!(f.alerting.rule_versions("api rule").unwrap().len(), 3);
    assert!(matches!(f.alerting.delete_rule("errors"), Err(crate::AlertError::Conflict(_))));
}
