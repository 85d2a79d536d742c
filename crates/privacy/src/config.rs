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
    /// Rules of some services or environments that differ from the rest; the first that
    /// matches a record's service and environment applies.
    pub overrides: Vec<Override>,
}

/// `[[privacy.overrides]]`: what differs for the services and environments it names. Detector
/// switches and actions are laid over the server-wide ones; attribute lists are added to them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Override {
    /// A service name or a glob (`payments-*`); none: every service.
    pub service: Option<String>,
    /// An environment name or a glob; none: every environment.
    pub environment: Option<String>,
    /// Masking on or off for these records.
    pub enabled: Option<bool>,
    pub detectors: BTreeMap<String, bool>,
    pub actions: BTreeMap<String, Action>,
    pub sensitive_attributes: Vec<String>,
    pub exclude_fields: Vec<String>,
}

impl Override {
    /// Whether the override is for records of `service` in `environment`.
    pub fn applies(&self, service: &str, environment: &str) -> bool {
        let matches = |pattern: &Option<String>, name: &str| pattern.as_deref().is_none_or(|p| trawl_model::glob::glob_match(p, name));
        matches(&self.service, service) && matches(&self.environment, environment)
    }
}

impl PrivacyConfig {
    /// The configuration of the records `o` is for: `o` laid over this one.
    pub fn with_override(&self, o: &Override) -> PrivacyConfig {
        let mut c = self.clone();
        c.overrides.clear();
        if let Some(enabled) = o.enabled {
            c.enabled = enabled;
        }
        c.detectors.extend(o.detectors.iter().map(|(k, v)| (k.clone(), *v)));
        c.actions.extend(o.actions.iter().map(|(k, v)| (k.clone(), *v)));
        c.sensitive_attributes.extend(o.sensitive_attributes.iter().cloned());
        c.exclude_fields.extend(o.exclude_fields.iter().cloned());
        c
    }
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
            overrides: Vec::new(),
        }
    }
}
