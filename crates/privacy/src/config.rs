//! `[privacy]` of trawl.toml: which detectors run, what they do, and what is never scanned.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What happens to a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Replaced by the detector's partial mask or a `[REDACTED:<name>]` token.
    Mask,
    /// Replaced by `[HASH:<name>:<16 hex>]`, a keyed HMAC-SHA256 of the value: the same value
    /// gives the same token (records still correlate by user or e-mail) and cannot be read back.
    Hash,
    /// The attribute holding it is removed (in a body or message, the finding is masked).
    DropField,
}

/// A detector of the user's: a name and a regular expression (the whole match is sensitive,
/// or the first capture group when there is one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetector {
    pub name: String,
    pub pattern: String,
    #[serde(default)]
    pub action: Option<Action>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Masking at ingest (default on).
    pub enabled: bool,
    /// Detectors switched on or off by name (`ipv4 = true`, `email = false`).
    pub detectors: BTreeMap<String, bool>,
    /// Action per detector name (default `mask`); `sensitive_attribute` names the action for
    /// values of sensitive attribute names.
    pub actions: BTreeMap<String, Action>,
    /// Key of the `hash` action (required when any action is `hash`).
    pub hash_key: Option<String>,
    /// More attribute names whose values are masked whole.
    pub sensitive_attributes: Vec<String>,
    /// Attribute names never scanned (`order.id`); trace and span ids never are.
    pub exclude_fields: Vec<String>,
    pub custom: Vec<CustomDetector>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            enabled: true,
            detectors: BTreeMap::new(),
            actions: BTreeMap::new(),
            hash_key: None,
            sensitive_attributes: Vec::new(),
            exclude_fields: Vec::new(),
            custom: Vec::new(),
        }
    }
}
