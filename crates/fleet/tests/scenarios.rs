//! Per-trace root causes on generated scenarios whose fault is known: grouped by their
//! root-cause span (the deepest failing span no child explains), the top group must be the
//! deepest failing span of the injected fault (`Scenario::deepest_failing_span`), and a fault
//! that fails no span must leave only background noise. (The fleet-wide analysis, which names
//! the broken party rather than the deepest failing span, is tested in trawl-query.)

use std::collections::HashMap;

use trawl_fleet::{Fleet, FleetConfig, Scenario};
use trawl_trace::{assemble, rank_causes, CauseKey, CauseStatus, RootCauseKind};

fn failing_traces(fleet: &mut Fleet, n: usize, fault: bool, t0: i64) -> Vec<trawl_trace::AssembledTrace> {
    (0..n)
        .map(|i| {
            let (spans, records) = fleet.request(t0 + i as i64 * 10_000_000, fault);
            let id = spans[0].trace_id.clone();
            assemble(&id, spans, records)
        })
        .filter(|t| t.root_cause.as_ref().is_some_and(|rc| rc.kind == RootCauseKind::Error))
        .collect()
}

fn versions(traces: &[trawl_trace::AssembledTrace]) -> HashMap<String, HashMap<String, usize>> {
    let mut out: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for t in traces {
        for n in &t.nodes {
            if let Some((_, v)) = n.span.resource.iter().find(|(k, _)| k == "service.version") {
                *out.entry(n.span.service.clone()).or_default().entry(v.to_text().into_owned()).or_default() += 1;
            }
        }
    }
    out
}

#[test]
fn the_injected_fault_is_the_top_cause_for_every_scenario() {
    let t0 = 1_800_000_000_000_000_000;
    for scenario in Scenario::ALL {
        let mut fleet = Fleet::new(FleetConfig { scenario, services: 60, ..Default::default() });
        let baseline = failing_traces(&mut fleet, 3000, false, t0);
        let window = failing_traces(&mut fleet, 3000, true, t0 + 60_000_000_000);
        let mut baseline_counts: HashMap<CauseKey, usize> = HashMap::new();
        for t in &baseline {
            *baseline_counts.entry(CauseKey::of(t).unwrap()).or_default() += 1;
        }
        // Versions come from every span of the window, failing or not.
        let all: Vec<_> = (0..500)
            .map(|i| {
                let (s, r) = fleet.request(t0 + 120_000_000_000 + i * 1_000_000, true);
                let id = s[0].trace_id.clone();
                assemble(&id, s, r)
            })
            .collect();
        let causes = rank_causes(&window, &baseline_counts, &versions(&all));
        if let Some(top) = causes.first() {
            eprintln!(
                "{scenario:?}: {} failing traces, top cause {} `{}` share {:.3}",
                window.len(),
                top.key.service,
                top.key.operation,
                top.share
            );
        }
        match scenario.deepest_failing_span() {
            None => {
                // Only background noise (the recommender's steady 5 % among it): every group is
                // small, under 3 % of the 3,000 requests.
                assert!(causes.iter().all(|c| c.traces < 90), "{scenario:?}: {causes:#?}");
            }
            Some((service, operation)) => {
                let top = &causes[0];
                assert_eq!((top.key.service.as_str(), top.key.operation.as_str()), (service, operation), "{scenario:?}: {causes:#?}");
                assert!(top.share > 0.5, "{scenario:?}: share {}", top.share);
                assert_eq!(top.status, CauseStatus::New, "{scenario:?}");
                if scenario == Scenario::BadDeploy {
                    assert_eq!(top.version_specific.as_deref(), Some("2.5.0-canary"), "{top:#?}");
                } else {
                    assert_eq!(top.version_specific, None, "{scenario:?}: {top:#?}");
                }
            }
        }
    }
}
