//! Which changes are causes and which are their effects: a walk down the call graph.
//!
//! Every service with a change of its own (errors, latency, ERROR logs) is a suspect. A suspect
//! whose calls to a callee changed (failed or slowed along the edge) is explained by that
//! callee, and the walk goes on from it:
//! - a callee with changes of its own explains its callers, even when its own spans are all
//!   OK (a callee that got slower explains its callers' timeouts), and is itself explained by
//!   its own callees in turn;
//! - a callee that sent no spans at all (known only from its callers' CLIENT spans, by
//!   `peer.service`, `server.address` or `net.peer.name`) is the cause: an uninstrumented
//!   dependency;
//! - an instrumented callee without changes of its own whose calls from this caller failed
//!   is the cause as well: the calls did not reach it (connection refused, a partition).
//!
//! A suspect whose calls did not change is its own cause. Every cause carries the suspects it
//! explains (its callers, transitively) as evidence, and its score is the largest standard
//! score along that chain: how unusual the whole incident it explains is.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use super::evidence::{Anomaly, ChangeKind, Evidence};

/// A cause found by the walk.
#[derive(Debug, Clone)]
pub struct Attributed {
    pub service: String,
    /// Its operation, when the walk knows it (an operation's own change); empty for a log
    /// change and for a callee known only by its callers (found later from traces and logs).
    pub operation: String,
    pub change: ChangeKind,
    /// The change that makes it a cause: its own, or that of the calls to it.
    pub anomaly: Anomaly,
    /// The callers whose calls to it failed or slowed (for a callee named by its callers).
    pub via: Vec<String>,
    /// The suspects it explains, by falling score.
    pub explains: Vec<Anomaly>,
    pub score: f64,
}

/// Finds the causes of the changes in `evidence`, by falling score.
pub fn attribute(evidence: &Evidence, own: Vec<Anomaly>) -> Vec<Attributed> {
    let mut by_service: BTreeMap<String, Vec<Anomaly>> = BTreeMap::new();
    for a in own {
        by_service.entry(a.service.clone()).or_default().push(a);
    }
    for anomalies in by_service.values_mut() {
        anomalies.sort_by(|a, b| b.z.total_cmp(&a.z));
    }
    let mut callees: BTreeMap<String, Vec<(String, Vec<Anomaly>)>> = BTreeMap::new();
    for ((caller, callee), anomalies) in evidence.edge_anomalies() {
        callees.entry(caller).or_default().push((callee, anomalies));
    }
    let walk = Walk { evidence, by_service: &by_service, callees: &callees, resolved: RefCell::new(BTreeMap::new()) };

    let mut causes: BTreeMap<(String, String, ChangeKind), Attributed> = BTreeMap::new();
    for (service, anomalies) in &by_service {
        let mut visiting = BTreeSet::new();
        for cause in walk.resolve(service, &mut visiting) {
            let key = (cause.service.clone(), cause.operation.clone(), cause.change);
            let via = cause.via.clone();
            let entry = causes.entry(key).or_insert(cause);
            entry.via.extend(via);
            if service != &entry.service {
                entry.explains.extend(anomalies.iter().cloned());
            }
        }
    }
    let mut out: Vec<Attributed> = causes
        .into_values()
        .map(|mut c| {
            c.explains.sort_by(|a, b| b.z.total_cmp(&a.z));
            c.via.sort();
            c.via.dedup();
            c.score = c.explains.iter().map(|a| a.z).fold(c.anomaly.z, f64::max);
            c
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.service.cmp(&b.service)));
    out
}

struct Walk<'a> {
    evidence: &'a Evidence,
    by_service: &'a BTreeMap<String, Vec<Anomaly>>,
    callees: &'a BTreeMap<String, Vec<(String, Vec<Anomaly>)>>,
    /// Each suspect's causes, found once: many suspects share the services below them, and
    /// walking every path again would take time exponential in the graph's depth.
    resolved: RefCell<BTreeMap<String, Vec<Attributed>>>,
}

impl Walk<'_> {
    /// The causes that explain `service`'s changes (itself when nothing below does).
    fn resolve(&self, service: &str, visiting: &mut BTreeSet<String>) -> Vec<Attributed> {
        if let Some(done) = self.resolved.borrow().get(service) {
            return done.clone();
        }
        if !visiting.insert(service.to_string()) {
            return Vec::new();
        }
        let mut found = Vec::new();
        for (callee, edge) in self.callees.get(service).into_iter().flatten() {
            if self.by_service.contains_key(callee) {
                found.extend(self.resolve(callee, visiting));
                continue;
            }
            let strongest = edge.iter().max_by(|a, b| a.z.total_cmp(&b.z)).expect("an anomalous edge has an anomaly");
            let change = if !self.evidence.instrumented.contains(callee) {
                strongest.change
            } else if edge.iter().any(|a| a.change == ChangeKind::Errors) {
                ChangeKind::FailedCalls
            } else {
                strongest.change
            };
            found.push(Attributed {
                service: callee.clone(),
                operation: String::new(),
                change,
                anomaly: strongest.clone(),
                via: vec![service.to_string()],
                explains: Vec::new(),
                score: strongest.z,
            });
        }
        if found.is_empty() {
            // Its spans' own change when it has one (a log change is the weaker, derived signal
            // of the same failure), else its log change.
            let anomalies = self.by_service.get(service);
            let own = anomalies.and_then(|a| a.iter().find(|a| a.change != ChangeKind::LogErrors).or(a.first()));
            if let Some(own) = own {
                found.push(Attributed {
                    service: service.to_string(),
                    operation: own.operation.clone(),
                    change: own.change,
                    anomaly: own.clone(),
                    via: Vec::new(),
                    explains: Vec::new(),
                    score: own.z,
                });
            }
        }
        visiting.remove(service);
        // One entry per cause, however many paths lead to it (else the lists double per layer).
        let mut unique: Vec<Attributed> = Vec::new();
        for cause in found {
            match unique.iter_mut().find(|u| u.service == cause.service && u.operation == cause.operation && u.change == cause.change) {
                Some(u) => u.via.extend(cause.via),
                None => unique.push(cause),
            }
        }
        for u in &mut unique {
            u.via.sort();
            u.via.dedup();
        }
        let found = unique;
        self.resolved.borrow_mut().insert(service.to_string(), found.clone());
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootcause::evidence::{Figures, OpKey, Side};
    use trawl_rollup::RedStats;

    fn anomaly(service: &str, z: f64) -> Anomaly {
        Anomaly {
            service: service.into(),
            operation: "op".into(),
            kind: "SERVER".into(),
            change: ChangeKind::Errors,
            z,
            window: Figures::default(),
            baseline: Figures::default(),
            step_ns: None,
        }
    }

    /// A lattice 60 layers deep, two services per layer, each calling both of the next layer
    /// (2^60 paths), every edge failing: the walk ends at the bottom layer, quickly.
    #[test]
    fn a_deep_lattice_resolves_to_its_bottom() {
        let mut evidence = Evidence::default();
        let name = |layer: usize, i: usize| format!("s{layer}-{i}");
        let mut failing = RedStats::default();
        for _ in 0..1000 {
            failing.add(1_000_000, true);
        }
        let side = |stats: &RedStats| {
            let mut s = Side::default();
            s.total = stats.clone();
            s
        };
        let mut healthy = RedStats::default();
        for _ in 0..1000 {
            healthy.add(1_000_000, false);
        }
        let mut own = Vec::new();
        for layer in 0..60 {
            for i in 0..2 {
                evidence.instrumented.insert(name(layer, i));
                evidence.ops.insert(OpKey { service: name(layer, i), operation: "op".into(), kind: "SERVER".into() }, (side(&failing), side(&healthy)));
                own.push(anomaly(&name(layer, i), 10.0 + layer as f64));
                if layer + 1 < 60 {
                    for j in 0..2 {
                        evidence.edges.insert((name(layer, i), name(layer + 1, j)), (side(&failing), side(&healthy)));
                    }
                }
            }
        }
        let causes = attribute(&evidence, own);
        let mut services: Vec<&str> = causes.iter().map(|c| c.service.as_str()).collect();
        services.sort();
        assert_eq!(services, vec!["s59-0", "s59-1"]);
        assert!(causes.iter().all(|c| c.explains.len() == 118), "{causes:#?}");
    }
}
