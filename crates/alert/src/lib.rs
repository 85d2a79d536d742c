//! Alerting: rules, their evaluation, alert state, evidence, routing and notifications.
//!
//! - [`rule`]: what a rule says ([`RuleSpec`]) and what the evaluator runs ([`Rule`]); one
//!   validation path for files, the API and the UI.
//! - [`kinds`]: the evaluation of each kind of rule into samples (one per group).
//! - [`state`]: alert instances and their state machine (pending → firing → resolved).
//! - [`evidence`]: what a firing alert carries (figure and baseline, root cause, patterns,
//!   changes, links).
//! - [`policy`], [`silence`]: routing, grouping, inhibition and silences.
//! - [`channels`]: the contact points' formats and delivery.

pub mod band;
pub mod channels;
pub mod config;
mod dispatch;
mod engine;
mod evaluator;
pub mod contact_point;
pub mod duration;
pub mod evidence;
pub mod files;
pub mod format;
pub mod http;
pub mod kinds;
pub mod labels;
pub mod mask;
mod metrics;
pub mod notification;
mod outbox;
pub mod policy;
pub mod rollup_cache;
pub mod rule;
pub mod silence;
pub mod state;
pub mod template;

pub use config::AlertConfig;
pub use duration::Dur;
pub use engine::{check_rule, AlertError, AlertEvent, AlertView, Alerting, EvalPoint, FiredPeriod, Preview, ReloadReport, RuleHealth, RuleView, API_SOURCE};
pub use evaluator::next_due;
pub use metrics::AlertMetrics;
pub use rule::{Compiled, Rule, RuleKind, RuleSpec};
#[cfg(test)]
mod tests;
