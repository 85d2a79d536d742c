//! [`Alerting`]: the rules, the alert instances, silences, contact points and policies, held in
//! memory and stored in the metastore; what the API, the CLI and the UI call. The evaluator
//! (`evaluator.rs`), the dispatcher (`dispatch.rs`) and the outbox (`outbox.rs`) work on it.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use trawl_model::Clock;
use trawl_storage::{AlertWrite, EventRow, InstanceRow, Store};

use crate::config::AlertConfig;
use crate::contact_point::ContactPointSpec;
use crate::dispatch::GroupState;
use crate::files::{self, FileProblem, Source};
use crate::http::OutboundClient;
use crate::kinds::{EvalContext, EvalOutput, Memo, SloStatus};
use crate::labels::{Labels, Matcher};
use crate::metrics::AlertMetrics;
use crate::notification::{Notification, NotificationKind};
use crate::policy::Policies;
use crate::rollup_cache::RollupCache;
use crate::rule::{Problem, Rule, RuleSpec};
use crate::silence::Silence;
use crate::state::{AlertState, Instance, Sample};

/// Object kinds in the metastore's `alert_objects`.
pub(crate) const RULE: &str = "rule";
pub(crate) const CONTACT_POINT: &str = "contact_point";
pub(crate) const POLICIES: &str = "policies";
pub(crate) const SILENCE: &str = "silence";
pub(crate) const THREAD: &str = "thread";
/// The source of objects made through the API.
pub const API_SOURCE: &str = "api";

/// Errors of alerting operations, mapped to status codes by the API.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{0}")]
    NotFound(String),
    #[error("invalid: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    #[error("{0}")]
    Conflict(String),
    #[error("the files were refused: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Files(Vec<FileProblem>),
    #[error("{0}")]
    Store(#[from] trawl_storage::StoreError),
    #[error("{0}")]
    Internal(String),
}

fn invalid(field: &str, message: impl Into<String>) -> AlertError {
    AlertError::Invalid(vec![Problem { field: field.into(), message: message.into(), column: None }])
}

/// How a rule's evaluations went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleHealth {
    pub evaluations: u64,
    pub failures: u64,
    /// Evaluations skipped because the previous one was still running.
    pub skipped: u64,
    pub last_eval_ns: Option<i64>,
    pub last_duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_warnings: Vec<String>,
    pub next_eval_ns: Option<i64>,
}

/// One group's figure in a past evaluation, for the rule's chart.
#[derive(Debug, Clone, Serialize)]
pub struct PointSample {
    pub labels: Labels,
    pub value: f64,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band: Option<crate::state::Band>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalPoint {
    pub at_ns: i64,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub groups: usize,
    pub samples: Vec<PointSample>,
}

/// Evaluations kept per rule (6 hours at one a minute)...
const HISTORY_POINTS: usize = 360;
/// ...groups kept per evaluation (the active ones, then the highest: the chart draws 12)...
const HISTORY_SAMPLES: usize = 12;
/// ...and groups kept per rule in all, so a rule of many groups keeps a shorter past (memory).
const HISTORY_SAMPLES_PER_RULE: usize = 1_000;

#[derive(Debug, Clone)]
pub(crate) struct StoredContactPoint {
    pub spec: ContactPointSpec,
    pub source: String,
    pub version: i64,
}

pub(crate) struct State {
    pub rules: BTreeMap<String, (Arc<Rule>, i64)>,
    pub health: BTreeMap<String, RuleHealth>,
    pub history: BTreeMap<String, VecDeque<EvalPoint>>,
    pub slo: BTreeMap<String, Vec<SloStatus>>,
    pub instances: BTreeMap<String, Instance>,
    pub silences: BTreeMap<String, Silence>,
    pub contact_points: BTreeMap<String, StoredContactPoint>,
    pub policies: Policies,
    pub policies_source: Option<String>,
    pub groups: BTreeMap<String, GroupState>,
    /// Rules being evaluated now.
    pub running: HashSet<String>,
    /// Problems of the last reload of the files, if it was refused.
    pub file_problems: Vec<FileProblem>,
}

pub struct Alerting {
    pub(crate) store: Arc<Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: AlertConfig,
    pub(crate) state: Mutex<State>,
    pub metrics: AlertMetrics,
    pub(crate) rollups: RollupCache,
    pub(crate) memo: Memo,
    pub(crate) http: OutboundClient,
    pub(crate) outbox_wake: tokio::sync::Notify,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    pub(crate) notify_runtime: Mutex<Option<tokio::runtime::Runtime>>,
}

/// A rule as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub source: String,
    pub version: i64,
    pub health: RuleHealth,
    pub firing: usize,
    pub pending: usize,
}

/// An alert instance as the API shows it, with why it is not notified (`silenced_by`, and the
/// instance's `inhibited_by`).
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    #[serde(flatten)]
    pub instance: Instance,
    pub silenced_by: Vec<String>,
    pub url: String,
}

/// The past of one alert instance.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent {
    pub at_ns: i64,
    pub state: String,
    pub value: Option<f64>,
}

fn json<T: Serialize>(value: &T) -> Result<String, AlertError> {
    serde_json::to_string(value).map_err(|e| AlertError::Internal(format!("cannot encode: {e}")))
}

/// Every problem of a rule, or the checked rule.
pub fn check_rule(spec: &RuleSpec) -> Result<crate::rule::Compiled, Vec<Problem>> {
    spec.compile()
}

impl Alerting {
    /// Loads the stored objects and instances, then the files. A file set with problems is
    /// refused (reported by [`Alerting::file_problems`]) and the stored file objects stay.
    pub fn open(store: Arc<Store>, clock: Arc<dyn Clock>, config: AlertConfig) -> Result<Arc<Alerting>, AlertError> {
        let http = OutboundClient::new(&config.outbound, config.outbound_limits).map_err(AlertError::Internal)?;
        let state = State {
            rules: BTreeMap::new(),
            health: BTreeMap::new(),
            history: BTreeMap::new(),
            slo: BTreeMap::new(),
            instances: BTreeMap::new(),
            silences: BTreeMap::new(),
            contact_points: BTreeMap::new(),
            policies: Policies::default(),
            policies_source: None,
            groups: BTreeMap::new(),
            running: HashSet::new(),
            file_problems: Vec::new(),
        };
        let alerting = Arc::new(Alerting {
            rollups: RollupCache::new(store.clone()),
            store,
            clock,
            config,
            state: Mutex::new(state),
            metrics: AlertMetrics::default(),
            memo: Memo::default(),
            http,
            outbox_wake: tokio::sync::Notify::new(),
            shutting_down: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            notify_runtime: Mutex::new(None),
        });
        alerting.load_stored()?;
        if let Err(AlertError::Files(problems)) = alerting.reload() {
            for p in &problems {
                tracing::error!(problem = %p, "alert files refused");
            }
        }
        Ok(alerting)
    }

    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    pub fn now_ns(&self) -> i64 {
        self.clock.now_ns()
    }

    fn load_stored(&self) -> Result<(), AlertError> {
        let (rules, cps, policies, silences, instances, groups) = self.store.with_alert_tables(|t| {
            Ok((t.objects(RULE)?, t.objects(CONTACT_POINT)?, t.objects(POLICIES)?, t.objects(SILENCE)?, t.instances()?, t.groups()?))
        })?;
        let mut state = self.state.lock();
        for row in rules {
            match serde_json::from_str::<RuleSpec>(&row.body).map_err(|e| e.to_string()).and_then(|spec| {
                let compiled = spec.compile().map_err(|ps| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))?;
                Ok(Rule { spec, compiled, source: row.source.clone(), version: row.version })
            }) {
                Ok(rule) => {
                    state.rules.insert(row.name.clone(), (Arc::new(rule), 0));
                }
                Err(e) => tracing::error!(rule = %row.name, error = %e, "stored rule skipped"),
            }
        }
        for row in cps {
            match serde_json::from_str::<ContactPointSpec>(&row.body) {
                Ok(spec) => {
                    state.contact_points.insert(row.name.clone(), StoredContactPoint { spec, source: row.source, version: row.version });
                }
                Err(e) => tracing::error!(contact_point = %row.name, error = %e, "stored contact point skipped"),
            }
        }
        if let Some(row) = policies.into_iter().next() {
            match serde_json::from_str::<Policies>(&row.body) {
                Ok(p) => {
                    state.policies = p;
                    state.policies_source = Some(row.source);
                }
                Err(e) => tracing::error!(error = %e, "stored policies skipped"),
            }
        }
        for row in silences {
            if let Ok(s) = serde_json::from_str::<Silence>(&row.body) {
                state.silences.insert(s.id.clone(), s);
            }
        }
        for row in instances {
            match serde_json::from_str::<Instance>(&row.body) {
                Ok(i) => {
                    state.instances.insert(i.fingerprint.clone(), i);
                }
                Err(e) => tracing::error!(fingerprint = %row.fingerprint, error = %e, "stored alert skipped"),
            }
        }
        for (key, body) in groups {
            if let Ok(g) = serde_json::from_str::<GroupState>(&body) {
                state.groups.insert(key, g);
            }
        }
        Ok(())
    }

    /// Reads the rule files again (directory and built-in), all or nothing.
    pub fn reload(&self) -> Result<ReloadReport, AlertError> {
        let mut sources: Vec<Source> = self.config.builtin.clone();
        let mut problems = Vec::new();
        if let Some(dir) = &self.config.rules_dir {
            match files::read_dir(dir) {
                Ok(s) => sources.extend(s),
                Err(p) => problems.extend(p),
            }
        }
        let loaded = match files::load(&sources) {
            Ok(l) if problems.is_empty() => l,
            Ok(_) => {
                self.state.lock().file_problems = problems.clone();
                return Err(AlertError::Files(problems));
            }
            Err(p) => {
                problems.extend(p);
                self.state.lock().file_problems = problems.clone();
                return Err(AlertError::Files(problems));
            }
        };
        let file_sources: HashSet<String> = sources.iter().map(|s| s.name.clone()).collect();
        let is_file = |source: &str| source != API_SOURCE;
        // Cross-checks against what the API made: names and routes.
        {
            let state = self.state.lock();
            for (spec, source) in &loaded.rules {
                if let Some((r, _)) = state.rules.get(&spec.name) {
                    if r.source == API_SOURCE {
                        problems.push(FileProblem { file: source.clone(), line: None, message: format!("rule {:?} already exists, made through the API", spec.name) });
                    }
                }
            }
            for (cp, source) in &loaded.contact_points {
                if let Some(c) = state.contact_points.get(&cp.name) {
                    if c.source == API_SOURCE {
                        problems.push(FileProblem { file: source.clone(), line: None, message: format!("contact point {:?} already exists, made through the API", cp.name) });
                    }
                }
            }
            let mut names: Vec<String> = state.contact_points.values().filter(|c| c.source == API_SOURCE).map(|c| c.spec.name.clone()).collect();
            names.extend(loaded.contact_points.iter().map(|(c, _)| c.name.clone()));
            let policies = match &loaded.policies {
                Some((p, _)) => Some(p),
                None if state.policies_source.as_deref().is_some_and(is_file) => None,
                None => Some(&state.policies),
            };
            if let Some(p) = policies {
                if !(p.root.receivers.is_empty() && p.root.routes.is_empty()) {
                    for problem in p.check(&names) {
                        let file = loaded.policies.as_ref().map(|(_, f)| f.clone()).unwrap_or_else(|| "policies".into());
                        problems.push(FileProblem { file, line: None, message: format!("policies: {problem}") });
                    }
                }
            }
        }
        if !problems.is_empty() {
            self.state.lock().file_problems = problems.clone();
            return Err(AlertError::Files(problems));
        }
        let rule_rows: Vec<(String, String, String)> =
            loaded.rules.iter().map(|(s, src)| Ok((s.name.clone(), src.clone(), json(s)?))).collect::<Result<_, AlertError>>()?;
        let cp_rows: Vec<(String, String, String)> =
            loaded.contact_points.iter().map(|(c, src)| Ok((c.name.clone(), src.clone(), json(c)?))).collect::<Result<_, AlertError>>()?;
        let policy_rows: Vec<(String, String, String)> = match &loaded.policies {
            Some((p, src)) => vec![("root".into(), src.clone(), json(p)?)],
            None => Vec::new(),
        };
        let managed = |s: &str| is_file(s);
        let (changed_rules, changed_cps) = self.store.with_alert_tables(|t| {
            let r = t.sync_objects(RULE, managed, &rule_rows)?;
            let c = t.sync_objects(CONTACT_POINT, managed, &cp_rows)?;
            t.sync_objects(POLICIES, managed, &policy_rows)?;
            Ok((r, c))
        })?;
        let versions = self.store.with_alert_tables(|t| t.objects(RULE))?;
        let cp_versions = self.store.with_alert_tables(|t| t.objects(CONTACT_POINT))?;
        let mut state = self.state.lock();
        state.rules.retain(|_, (r, _)| r.source == API_SOURCE);
        for (spec, source) in loaded.rules {
            let version = versions.iter().find(|v| v.name == spec.name).map_or(1, |v| v.version);
            let compiled = spec.compile().map_err(AlertError::Invalid)?;
            let name = spec.name.clone();
            let due = state.rules.get(&name).map_or(0, |r| r.1);
            state.rules.insert(name, (Arc::new(Rule { spec, compiled, source, version }), due));
        }
        state.contact_points.retain(|_, c| c.source == API_SOURCE);
        for (spec, source) in loaded.contact_points {
            let version = cp_versions.iter().find(|v| v.name == spec.name).map_or(1, |v| v.version);
            state.contact_points.insert(spec.name.clone(), StoredContactPoint { spec, source, version });
        }
        match loaded.policies {
            Some((p, source)) => {
                state.policies = p;
                state.policies_source = Some(source);
            }
            None if state.policies_source.as_deref().is_some_and(is_file) => {
                state.policies = Policies::default();
                state.policies_source = None;
            }
            None => {}
        }
        state.file_problems.clear();
        let n_rules = state.rules.values().filter(|(r, _)| file_sources.contains(&r.source)).count();
        drop(state);
        self.end_orphans();
        Ok(ReloadReport { files: file_sources.len(), rules: n_rules, changed_rules, changed_contact_points: changed_cps })
    }

    /// Problems of the last refused reload (empty when it was taken).
    pub fn file_problems(&self) -> Vec<FileProblem> {
        self.state.lock().file_problems.clone()
    }

    /// Resolves the instances whose rule is gone or disabled.
    pub(crate) fn end_orphans(&self) {
        let now = self.now_ns();
        let mut write = AlertWrite::default();
        {
            let mut state = self.state.lock();
            let live: HashSet<String> = state.rules.iter().filter(|(_, (r, _))| r.spec.enabled).map(|(n, _)| n.clone()).collect();
            let mut dropped = Vec::new();
            for (fp, i) in state.instances.iter_mut().filter(|(_, i)| !live.contains(&i.rule)) {
                match i.end(now) {
                    crate::state::Change::Dropped => dropped.push(fp.clone()),
                    crate::state::Change::Resolved => {
                        write.events.push(event_row(i, now));
                        if let Ok(row) = instance_row(i) {
                            write.instances.push(row);
                        }
                    }
                    _ => {}
                }
            }
            for fp in dropped {
                state.instances.remove(&fp);
                write.deleted_instances.push(fp);
            }
        }
        if let Err(e) = self.store.with_alert_tables(|t| t.apply(&write)) {
            tracing::error!(error = %e, "cannot store ended alerts");
        }
    }

    // ---- rules

    pub fn rules(&self) -> Vec<RuleView> {
        let state = self.state.lock();
        state.rules.values().map(|(r, _)| rule_view(&state, r)).collect()
    }

    pub fn rule(&self, name: &str) -> Result<RuleView, AlertError> {
        let state = self.state.lock();
        let (r, _) = state.rules.get(name).ok_or_else(|| AlertError::NotFound(format!("no rule named {name:?}")))?;
        Ok(rule_view(&state, r))
    }

    pub fn rule_history(&self, name: &str) -> Result<Vec<EvalPoint>, AlertError> {
        let state = self.state.lock();
        if !state.rules.contains_key(name) {
            return Err(AlertError::NotFound(format!("no rule named {name:?}")));
        }
        Ok(state.history.get(name).map(|h| h.iter().cloned().collect()).unwrap_or_default())
    }

    pub fn rule_versions(&self, name: &str) -> Result<Vec<serde_json::Value>, AlertError> {
        let rows = self.store.with_alert_tables(|t| t.object_versions(RULE, name, 100))?;
        if rows.is_empty() {
            return Err(AlertError::NotFound(format!("no rule named {name:?}")));
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "version": r.version,
                    "source": r.source,
                    "changed_at": trawl_model::format_rfc3339(r.changed_at_ns),
                    "deleted": r.body.is_none(),
                    "rule": r.body.and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok()),
                })
            })
            .collect())
    }

    /// Creates (`replace` false) or replaces a rule made through the API.
    pub fn put_rule(&self, spec: RuleSpec, replace: bool) -> Result<RuleView, AlertError> {
        let compiled = spec.compile().map_err(AlertError::Invalid)?;
        {
            let state = self.state.lock();
            match state.rules.get(&spec.name) {
                Some((r, _)) if r.source != API_SOURCE => {
                    return Err(AlertError::Conflict(format!("rule {:?} comes from {}: change it there", spec.name, r.source)))
                }
                Some(_) if !replace => return Err(AlertError::Conflict(format!("a rule named {:?} already exists", spec.name))),
                None if replace => return Err(AlertError::NotFound(format!("no rule named {:?}", spec.name))),
                _ => {}
            }
            if let Some(p) = &spec.policy {
                if state.policies.routes_for(&Labels::new(), Some(p)).first().map(|r| r.id.as_str()) == Some("") && state.policies.root.name.as_deref() != Some(p) {
                    return Err(invalid("policy", format!("no route named {p:?} in the policies")));
                }
            }
            if state.rules.len() >= files::MAX_RULES && !state.rules.contains_key(&spec.name) {
                return Err(invalid("name", format!("there are already {} rules", files::MAX_RULES)));
            }
        }
        let body = json(&spec)?;
        let version = self.store.with_alert_tables(|t| t.put_object(RULE, &spec.name, API_SOURCE, &body))?;
        let mut state = self.state.lock();
        let name = spec.name.clone();
        let rule = Arc::new(Rule { spec, compiled, source: API_SOURCE.into(), version });
        state.rules.insert(name.clone(), (rule.clone(), 0));
        let view = rule_view(&state, &rule);
        drop(state);
        self.end_orphans();
        Ok(view)
    }

    pub fn delete_rule(&self, name: &str) -> Result<(), AlertError> {
        {
            let state = self.state.lock();
            match state.rules.get(name) {
                None => return Err(AlertError::NotFound(format!("no rule named {name:?}"))),
                Some((r, _)) if r.source != API_SOURCE => {
                    return Err(AlertError::Conflict(format!("rule {name:?} comes from {}: delete it there", r.source)))
                }
                _ => {}
            }
        }
        self.store.with_alert_tables(|t| t.delete_object(RULE, name))?;
        {
            let mut state = self.state.lock();
            state.rules.remove(name);
            state.health.remove(name);
            state.history.remove(name);
            state.slo.remove(name);
        }
        self.end_orphans();
        Ok(())
    }

    /// Checks a rule and evaluates it now, without keeping anything: what it would say.
    pub fn dry_run(&self, spec: &RuleSpec) -> Result<(EvalOutput, f64), AlertError> {
        let compiled = spec.compile().map_err(AlertError::Invalid)?;
        let rule = Rule { spec: spec.clone(), compiled, source: API_SOURCE.into(), version: 0 };
        let started = std::time::Instant::now();
        let frozen = Default::default();
        let memo = Memo::default();
        let ctx = EvalContext {
            store: &self.store,
            rollups: &self.rollups,
            now_ns: self.now_ns(),
            limits: self.config.limits,
            frozen_bands: &frozen,
            cancel: None,
            memo: &memo,
        };
        let out = crate::kinds::evaluate(&rule, &ctx).map_err(|e| invalid("query", e))?;
        Ok((out, started.elapsed().as_secs_f64() * 1e3))
    }

    /// What a rule would have done over `start..end`: its figures at up to `max_points`
    /// evaluation times, and the periods it would have fired (with its `for` and
    /// `keep_firing_for`), without keeping anything.
    pub fn preview(&self, spec: &RuleSpec, start_ns: i64, end_ns: i64, max_points: usize) -> Result<Preview, AlertError> {
        let compiled = spec.compile().map_err(AlertError::Invalid)?;
        if end_ns <= start_ns || end_ns - start_ns > 7 * 86_400_000_000_000 {
            return Err(invalid("range", "end must be after start, at most 7 days"));
        }
        let rule = Rule { spec: spec.clone(), compiled, source: API_SOURCE.into(), version: 0 };
        let interval = spec.interval().ns();
        let points = max_points.clamp(1, 1_440) as i64;
        let step = ((end_ns - start_ns) / points).max(interval);
        let timing = crate::state::Timing { pending_for_ns: spec.pending_for().ns(), keep_firing_for_ns: spec.keep_firing_for().ns() };
        let rollups = RollupCache::new(self.store.clone());
        let memo = Memo::default();
        let frozen = Default::default();
        let mut out = Preview { step_ns: step, points: Vec::new(), fired: Vec::new(), warnings: Vec::new() };
        let mut instances: BTreeMap<String, (Instance, Option<usize>)> = BTreeMap::new();
        let started = std::time::Instant::now();
        let mut at = start_ns + step;
        while at <= end_ns {
            if started.elapsed() > self.config.limits.timeout * 2 {
                out.warnings.push(format!("stopped at {} after {}s", trawl_model::format_rfc3339(at), started.elapsed().as_secs()));
                break;
            }
            let ctx = EvalContext { store: &self.store, rollups: &rollups, now_ns: at, limits: self.config.limits, frozen_bands: &frozen, cancel: None, memo: &memo };
            let t0 = std::time::Instant::now();
            match crate::kinds::evaluate(&rule, &ctx) {
                Ok(o) => {
                    let mut seen: HashSet<String> = HashSet::new();
                    for s in &o.samples {
                        let mut labels = s.labels.clone();
                        labels.insert(crate::labels::RULE_LABEL.into(), spec.name.clone());
                        let fp = crate::labels::fingerprint(&labels);
                        seen.insert(fp.clone());
                        match instances.get_mut(&fp) {
                            Some((i, open)) => {
                                let change = i.observe(Some(s), None, at, timing);
                                track(&mut out.fired, i, open, change, at);
                            }
                            None if s.active => {
                                let (i, change) = Instance::start(&spec.name, labels, s, BTreeMap::new(), at, timing);
                                let mut open = None;
                                track(&mut out.fired, &i, &mut open, change, at);
                                instances.insert(fp, (i, open));
                            }
                            None => {}
                        }
                    }
                    for (fp, (i, open)) in instances.iter_mut() {
                        if !seen.contains(fp) {
                            let change = i.observe(None, None, at, timing);
                            track(&mut out.fired, i, open, change, at);
                        }
                    }
                    instances.retain(|_, (i, _)| i.state != AlertState::Pending || i.last_active_ns == at);
                    out.points.push(EvalPoint { at_ns: at, duration_ms: t0.elapsed().as_secs_f64() * 1e3, error: None, groups: o.samples.len(), samples: point_samples(&o.samples) });
                }
                Err(e) => out.points.push(EvalPoint { at_ns: at, duration_ms: t0.elapsed().as_secs_f64() * 1e3, error: Some(e), groups: 0, samples: Vec::new() }),
            }
            at += step;
        }
        Ok(out)
    }

    // ---- alerts

    pub fn alerts(&self, states: &[AlertState], rule: Option<&str>) -> Vec<AlertView> {
        let now = self.now_ns();
        let state = self.state.lock();
        let inhibitors = crate::dispatch::Inhibitors::new(&state);
        let mut out: Vec<AlertView> = state
            .instances
            .values()
            .filter(|i| states.is_empty() || states.contains(&i.state))
            .filter(|i| rule.is_none_or(|r| i.rule == r))
            .map(|i| alert_view(&state, &inhibitors, i, now, &self.config.public_url))
            .collect();
        out.sort_by(|a, b| {
            let rank = |s: AlertState| match s {
                AlertState::Firing => 0,
                AlertState::Pending => 1,
                AlertState::Resolved => 2,
            };
            rank(a.instance.state)
                .cmp(&rank(b.instance.state))
                .then(b.instance.fired_at_ns.unwrap_or(b.instance.active_since_ns).cmp(&a.instance.fired_at_ns.unwrap_or(a.instance.active_since_ns)))
        });
        out
    }

    pub fn alert(&self, fingerprint: &str) -> Result<(AlertView, Vec<AlertEvent>), AlertError> {
        let now = self.now_ns();
        let view = {
            let state = self.state.lock();
            let i = state.instances.get(fingerprint).ok_or_else(|| AlertError::NotFound(format!("no alert {fingerprint:?}")))?;
            alert_view(&state, &crate::dispatch::Inhibitors::new(&state), i, now, &self.config.public_url)
        };
        let events = self.store.with_alert_tables(|t| t.events(None, Some(fingerprint), 0, 500))?;
        let events = events
            .into_iter()
            .map(|e| AlertEvent {
                at_ns: e.at_ns,
                state: e.state,
                value: serde_json::from_str::<serde_json::Value>(&e.body).ok().and_then(|v| v["value"].as_f64()),
            })
            .collect();
        Ok((view, events))
    }

    /// Acknowledges a firing alert: repeats stop, and PagerDuty and chat channels are told.
    pub fn acknowledge(&self, fingerprint: &str, by: &str, comment: &str) -> Result<AlertView, AlertError> {
        if by.trim().is_empty() || by.len() > 256 || comment.len() > crate::silence::MAX_COMMENT_BYTES {
            return Err(invalid("by", "say who acknowledges (at most 256 bytes; a comment of at most 4 KiB)"));
        }
        let now = self.now_ns();
        let view = {
            let mut state = self.state.lock();
            let i = state.instances.get_mut(fingerprint).ok_or_else(|| AlertError::NotFound(format!("no alert {fingerprint:?}")))?;
            if i.state != AlertState::Firing {
                return Err(AlertError::Conflict(format!("the alert is {}, only a firing alert can be acknowledged", i.state.as_str())));
            }
            i.ack = Some(crate::state::Ack { by: by.trim().to_string(), at_ns: now, comment: comment.to_string() });
            let row = instance_row(i)?;
            let i = i.clone();
            let event = EventRow {
                fingerprint: fingerprint.into(),
                rule: i.rule.clone(),
                at_ns: now,
                state: "acknowledged".into(),
                body: json(&serde_json::json!({"by": by, "comment": comment}))?,
            };
            // Stored before the lock is let go: the order of every path (state, then tables).
            self.store.with_alert_tables(|t| t.apply(&AlertWrite { instances: vec![row], events: vec![event], ..Default::default() }))?;
            alert_view(&state, &crate::dispatch::Inhibitors::new(&state), &i, now, &self.config.public_url)
        };
        self.dispatch();
        Ok(view)
    }

    // ---- silences

    pub fn silences(&self) -> Vec<(Silence, &'static str)> {
        let now = self.now_ns();
        let state = self.state.lock();
        let mut out: Vec<(Silence, &'static str)> = state.silences.values().map(|s| (s.clone(), s.status(now))).collect();
        out.sort_by(|a, b| b.0.created_at_ns.cmp(&a.0.created_at_ns));
        out
    }

    pub fn add_silence(&self, matchers: Vec<Matcher>, starts_at_ns: Option<i64>, ends_at_ns: i64, created_by: &str, comment: &str) -> Result<Silence, AlertError> {
        let now = self.now_ns();
        let silence = Silence {
            id: new_id(),
            matchers,
            starts_at_ns: starts_at_ns.unwrap_or(now),
            ends_at_ns,
            created_by: created_by.trim().to_string(),
            comment: comment.to_string(),
            created_at_ns: now,
        };
        let problems = silence.check();
        if !problems.is_empty() {
            return Err(AlertError::Invalid(problems.into_iter().map(|m| Problem { field: "silence".into(), message: m, column: None }).collect()));
        }
        if self.state.lock().silences.len() >= 10_000 {
            return Err(invalid("silence", "10,000 silences exist: expire some first"));
        }
        let body = json(&silence)?;
        self.store.with_alert_tables(|t| t.put_object(SILENCE, &silence.id, API_SOURCE, &body))?;
        self.state.lock().silences.insert(silence.id.clone(), silence.clone());
        Ok(silence)
    }

    /// Ends a silence now (it stays listed as expired).
    pub fn expire_silence(&self, id: &str) -> Result<Silence, AlertError> {
        let now = self.now_ns();
        let mut s = self.state.lock().silences.get(id).cloned().ok_or_else(|| AlertError::NotFound(format!("no silence {id:?}")))?;
        if s.ends_at_ns > now {
            s.ends_at_ns = now.max(s.starts_at_ns);
            let body = json(&s)?;
            self.store.with_alert_tables(|t| t.put_object(SILENCE, &s.id, API_SOURCE, &body))?;
            self.state.lock().silences.insert(s.id.clone(), s.clone());
        }
        self.dispatch();
        Ok(s)
    }

    // ---- contact points and policies

    /// Contact points with their secrets hidden: (spec, source, version).
    pub fn contact_points(&self) -> Vec<(ContactPointSpec, String, i64)> {
        self.state.lock().contact_points.values().map(|c| (c.spec.redacted(), c.source.clone(), c.version)).collect()
    }

    pub fn contact_point(&self, name: &str) -> Result<(ContactPointSpec, String, i64), AlertError> {
        let state = self.state.lock();
        let c = state.contact_points.get(name).ok_or_else(|| AlertError::NotFound(format!("no contact point named {name:?}")))?;
        Ok((c.spec.redacted(), c.source.clone(), c.version))
    }

    pub fn put_contact_point(&self, mut spec: ContactPointSpec, replace: bool) -> Result<(ContactPointSpec, i64), AlertError> {
        {
            let state = self.state.lock();
            match state.contact_points.get(&spec.name) {
                Some(c) if c.source != API_SOURCE => {
                    return Err(AlertError::Conflict(format!("contact point {:?} comes from {}: change it there", spec.name, c.source)))
                }
                Some(c) if replace => spec.keep_secrets_of(&c.spec).map_err(|m| invalid("contact_point", m))?,
                Some(_) => return Err(AlertError::Conflict(format!("a contact point named {:?} already exists", spec.name))),
                None if replace => return Err(AlertError::NotFound(format!("no contact point named {:?}", spec.name))),
                None => {}
            }
            if state.contact_points.len() >= 1_000 && !replace {
                return Err(invalid("name", "1,000 contact points exist"));
            }
        }
        let problems = spec.check();
        if !problems.is_empty() {
            return Err(AlertError::Invalid(problems.into_iter().map(|m| Problem { field: "contact_point".into(), message: m, column: None }).collect()));
        }
        let body = json(&spec)?;
        let version = self.store.with_alert_tables(|t| t.put_object(CONTACT_POINT, &spec.name, API_SOURCE, &body))?;
        let shown = spec.redacted();
        self.state.lock().contact_points.insert(spec.name.clone(), StoredContactPoint { spec, source: API_SOURCE.into(), version });
        Ok((shown, version))
    }

    pub fn delete_contact_point(&self, name: &str) -> Result<(), AlertError> {
        {
            let state = self.state.lock();
            let c = state.contact_points.get(name).ok_or_else(|| AlertError::NotFound(format!("no contact point named {name:?}")))?;
            if c.source != API_SOURCE {
                return Err(AlertError::Conflict(format!("contact point {name:?} comes from {}: delete it there", c.source)));
            }
            if policy_uses(&state.policies.root, name) {
                return Err(AlertError::Conflict(format!("the policies route alerts to {name:?}: change them first")));
            }
        }
        self.store.with_alert_tables(|t| t.delete_object(CONTACT_POINT, name))?;
        self.state.lock().contact_points.remove(name);
        Ok(())
    }

    /// Sends a test notification to a contact point now, and says how it went.
    pub async fn test_contact_point(&self, name: &str) -> Result<(), AlertError> {
        let spec = self.state.lock().contact_points.get(name).map(|c| c.spec.clone()).ok_or_else(|| AlertError::NotFound(format!("no contact point named {name:?}")))?;
        let n = self.test_notification(&spec.name);
        let threads = crate::outbox::Threads { store: self.store.clone() };
        let ctx = crate::channels::DeliveryContext { http: &self.http, threads: &threads };
        let mut result = crate::channels::deliver(&spec, &n, &ctx).await;
        // Incident tools open an incident for the test: close it again.
        if result.is_ok() && matches!(spec.channel.kind(), "pagerduty" | "opsgenie") {
            let mut resolved = n.clone();
            resolved.kind = NotificationKind::Resolved;
            resolved.status = "resolved".into();
            for a in &mut resolved.alerts {
                a.status = "resolved".into();
                a.ends_at = Some(trawl_model::format_rfc3339(self.now_ns()));
            }
            result = crate::channels::deliver(&spec, &resolved, &ctx).await;
        }
        self.metrics.notification(spec.channel.kind(), result.is_ok());
        result.map_err(|e| AlertError::Conflict(format!("the test notification failed: {}", e.message())))
    }

    fn test_notification(&self, receiver: &str) -> Notification {
        let now = self.now_ns();
        let labels: Labels = [("rule".to_string(), "test".to_string()), ("service".to_string(), "결제-서비스".to_string()), ("severity".to_string(), "info".to_string())].into();
        Notification {
            schema_version: crate::notification::SCHEMA_VERSION,
            id: format!("test-{}", new_id()),
            kind: NotificationKind::Test,
            status: "firing".into(),
            receiver: receiver.to_string(),
            group_key: "test".into(),
            group_labels: labels.clone(),
            common_labels: labels.clone(),
            common_annotations: [("summary".to_string(), "trawl test notification: 결제 실패 알림 테스트".to_string())].into(),
            alerts: vec![crate::notification::AlertPayload {
                fingerprint: crate::labels::fingerprint(&labels),
                status: "firing".into(),
                rule: "test".into(),
                labels,
                annotations: [("summary".to_string(), "trawl test notification: 결제 실패 알림 테스트".to_string())].into(),
                starts_at: trawl_model::format_rfc3339(now),
                ends_at: None,
                value: 1.0,
                threshold: None,
                band: None,
                metric: "test".into(),
                unit: String::new(),
                url: format!("{}/alerts", self.config.public_url.trim_end_matches('/')),
                evidence: None,
            }],
            truncated_alerts: 0,
            external_url: self.config.public_url.clone(),
            sent_at: trawl_model::format_rfc3339(trawl_model::now_ns()),
            valid_until: None,
            acknowledged_by: None,
        }
    }

    pub fn policies(&self) -> (Policies, Option<String>) {
        let state = self.state.lock();
        (state.policies.clone(), state.policies_source.clone())
    }

    pub fn put_policies(&self, policies: Policies) -> Result<(), AlertError> {
        {
            let state = self.state.lock();
            if let Some(source) = state.policies_source.as_deref().filter(|s| *s != API_SOURCE) {
                return Err(AlertError::Conflict(format!("the policies come from {source}: change them there")));
            }
            let names: Vec<String> = state.contact_points.keys().cloned().collect();
            let problems = policies.check(&names);
            if !problems.is_empty() {
                return Err(AlertError::Invalid(problems.into_iter().map(|m| Problem { field: "policies".into(), message: m, column: None }).collect()));
            }
        }
        let body = json(&policies)?;
        self.store.with_alert_tables(|t| t.put_object(POLICIES, "root", API_SOURCE, &body))?;
        let mut state = self.state.lock();
        state.policies = policies;
        state.policies_source = Some(API_SOURCE.into());
        Ok(())
    }

    // ---- SLOs and notifications

    /// The SLOs of every SLO rule, with their error budgets.
    pub fn slos(&self) -> Vec<(String, SloStatus)> {
        let state = self.state.lock();
        state.slo.iter().flat_map(|(rule, items)| items.iter().map(move |s| (rule.clone(), s.clone()))).collect()
    }

    /// The newest notifications with their delivery state.
    pub fn notifications(&self, limit: usize) -> Result<Vec<serde_json::Value>, AlertError> {
        let rows = self.store.with_alert_tables(|t| t.recent_outbox(limit))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let n: Option<Notification> = serde_json::from_str(&r.body).ok();
                serde_json::json!({
                    "id": r.id,
                    "contact_point": r.contact_point,
                    "group_key": r.group_key,
                    "state": r.state,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "created_at": trawl_model::format_rfc3339(r.created_at_ns),
                    "updated_at": trawl_model::format_rfc3339(r.updated_at_ns),
                    "kind": n.as_ref().map(|n| n.kind),
                    "title": n.as_ref().map(|n| n.title()),
                    "alerts": n.as_ref().map(|n| n.alerts.len()),
                })
            })
            .collect())
    }

    /// Stops the evaluator and the outbox.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
        self.outbox_wake.notify_waiters();
        let threads: Vec<_> = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
        if let Some(rt) = self.notify_runtime.lock().take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}

/// What a reload did.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    pub files: usize,
    pub rules: usize,
    pub changed_rules: Vec<String>,
    pub changed_contact_points: Vec<String>,
}

/// What a rule would have done over a past range.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub step_ns: i64,
    pub points: Vec<EvalPoint>,
    /// Periods the rule would have fired, per alert.
    pub fired: Vec<FiredPeriod>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FiredPeriod {
    pub labels: Labels,
    pub start_ns: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ns: Option<i64>,
    pub max_value: f64,
}

fn track(fired: &mut Vec<FiredPeriod>, i: &Instance, open: &mut Option<usize>, change: crate::state::Change, at: i64) {
    match change {
        crate::state::Change::Firing => {
            fired.push(FiredPeriod { labels: i.labels.clone(), start_ns: at, end_ns: None, max_value: i.value });
            *open = Some(fired.len() - 1);
        }
        crate::state::Change::Resolved => {
            if let Some(n) = open.take() {
                fired[n].end_ns = Some(at);
            }
        }
        _ => {
            if let Some(n) = *open {
                fired[n].max_value = fired[n].max_value.max(i.value);
            }
        }
    }
}

fn policy_uses(route: &crate::policy::Route, name: &str) -> bool {
    route.receivers.iter().any(|r| r == name) || route.routes.iter().any(|r| policy_uses(r, name))
}

pub(crate) fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn rule_view(state: &State, r: &Rule) -> RuleView {
    let (mut firing, mut pending) = (0, 0);
    for i in state.instances.values().filter(|i| i.rule == r.spec.name) {
        match i.state {
            AlertState::Firing => firing += 1,
            AlertState::Pending => pending += 1,
            AlertState::Resolved => {}
        }
    }
    RuleView { spec: r.spec.clone(), source: r.source.clone(), version: r.version, health: state.health.get(&r.spec.name).cloned().unwrap_or_default(), firing, pending }
}

pub(crate) fn alert_view(state: &State, inhibitors: &crate::dispatch::Inhibitors<'_>, i: &Instance, now: i64, public_url: &str) -> AlertView {
    let silenced_by = state.silences.values().filter(|s| s.mutes(&i.labels, now)).map(|s| s.id.clone()).collect();
    let mut instance = i.clone();
    instance.inhibited_by = inhibitors.reason(state, i);
    AlertView { instance, silenced_by, url: crate::evidence::UiLinks { public_url }.alert(&i.fingerprint) }
}

pub(crate) fn instance_row(i: &Instance) -> Result<InstanceRow, AlertError> {
    Ok(InstanceRow { fingerprint: i.fingerprint.clone(), rule: i.rule.clone(), state: i.state.as_str().into(), body: json(i)? })
}

pub(crate) fn event_row(i: &Instance, at_ns: i64) -> EventRow {
    EventRow {
        fingerprint: i.fingerprint.clone(),
        rule: i.rule.clone(),
        at_ns,
        state: i.state.as_str().into(),
        body: serde_json::json!({"value": i.value, "labels": i.labels}).to_string(),
    }
}

/// A sample's history entry.
pub(crate) fn point_samples(samples: &[Sample]) -> Vec<PointSample> {
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by(|a, b| b.active.cmp(&a.active).then(b.value.total_cmp(&a.value)));
    sorted
        .into_iter()
        .take(HISTORY_SAMPLES)
        .map(|s| PointSample { labels: s.labels.clone(), value: s.value, active: s.active, threshold: s.threshold, band: s.band })
        .collect()
}

pub(crate) fn push_history(state: &mut State, rule: &str, point: EvalPoint) {
    let h = state.history.entry(rule.to_string()).or_default();
    h.push_back(point);
    let mut samples: usize = h.iter().map(|p| p.samples.len()).sum();
    while h.len() > HISTORY_POINTS || (samples > HISTORY_SAMPLES_PER_RULE && h.len() > 1) {
        if let Some(old) = h.pop_front() {
            samples -= old.samples.len();
        }
    }
}
