//! Settings of alerting (`[alerting]` in trawl.toml).

use std::path::PathBuf;

use crate::duration::Dur;
use crate::files::Source;
use crate::http::{OutboundLimits, OutboundPolicy};
use crate::kinds::EvalLimits;

#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Rule files (`*.yaml`, `*.toml`, `*.json`), loaded at start and on reload.
    pub rules_dir: Option<PathBuf>,
    /// Files that come with the binary (the demo's rule set), loaded with the directory's.
    pub builtin: Vec<Source>,
    /// The UI's address as people reach it, for links in notifications (the server sets it to
    /// where it listens when the configuration leaves it empty).
    pub public_url: String,
    /// Threads evaluating rules (the alerting lane: interactive queries never take them).
    pub workers: usize,
    pub limits: EvalLimits,
    pub outbound: OutboundPolicy,
    pub outbound_limits: OutboundLimits,
    /// Delivery attempts before a notification is marked failed.
    pub max_attempts: u32,
    /// Alert history and delivered notifications are kept this long.
    pub history: Dur,
    /// A firing notification waits at most this long for its evidence.
    pub evidence_wait: Dur,
    /// Resolved alerts stay listed this long.
    pub resolved_retention: Dur,
    /// Most newly firing alerts of one evaluation that get evidence (the rest say why not).
    pub max_evidence_per_evaluation: usize,
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            rules_dir: None,
            builtin: Vec::new(),
            public_url: String::new(),
            workers: 2,
            limits: EvalLimits::default(),
            outbound: OutboundPolicy::default(),
            outbound_limits: OutboundLimits::default(),
            max_attempts: 10,
            history: Dur::days(14),
            evidence_wait: Dur::secs(60),
            resolved_retention: Dur::hours(24),
            max_evidence_per_evaluation: 10,
        }
    }
}
