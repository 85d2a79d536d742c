//! The compiled `[privacy]` section: the server-wide masker and one per override, and which of
//! them a record gets by its service and environment.

use std::sync::Arc;

use trawl_model::{Record, Span};

use crate::config::{Override, PrivacyConfig};
use crate::masker::{Findings, Masker};
use crate::PrivacyError;

/// What masks records: cheap to share, swapped whole when the configuration is reloaded.
pub struct Rules {
    /// None where masking is off.
    base: Option<Arc<Masker>>,
    overrides: Vec<(Override, Option<Arc<Masker>>)>,
    /// Detector names that run somewhere (for reports), sorted.
    names: Vec<String>,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules").field("enabled", &self.enabled()).field("detectors", &self.names).field("overrides", &self.overrides.len()).finish()
    }
}

impl Rules {
    /// Compiles the server-wide rules and every override; a problem in any is an error naming
    /// the override.
    pub fn new(config: &PrivacyConfig) -> Result<Rules, PrivacyError> {
        let compile = |c: &PrivacyConfig| -> Result<Option<Arc<Masker>>, PrivacyError> {
            // Compiled even when off, so a mistake is found before someone switches it on.
            let masker = Masker::new(c)?;
            Ok(c.enabled.then(|| Arc::new(masker)))
        };
        let base = compile(config)?;
        let mut overrides = Vec::with_capacity(config.overrides.len());
        for (i, o) in config.overrides.iter().enumerate() {
            let masker = compile(&config.with_override(o)).map_err(|e| {
                PrivacyError(format!("override {} (service {:?}, environment {:?}): {}", i + 1, o.service.as_deref().unwrap_or("*"), o.environment.as_deref().unwrap_or("*"), e.0))
            })?;
            overrides.push((o.clone(), masker));
        }
        let mut names: Vec<String> = base
            .iter()
            .chain(overrides.iter().filter_map(|(_, m)| m.as_ref()))
            .flat_map(|m| m.detector_names().into_iter().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        Ok(Rules { base, overrides, names })
    }

    /// Rules that mask nothing.
    pub fn off() -> Rules {
        Rules { base: None, overrides: Vec::new(), names: Vec::new() }
    }

    /// The masker of records of `service` in `environment`; None where masking is off.
    pub fn masker_for(&self, service: &str, environment: &str) -> Option<&Masker> {
        match self.overrides.iter().find(|(o, _)| o.applies(service, environment)) {
            Some((_, masker)) => masker.as_deref(),
            None => self.base.as_deref(),
        }
    }

    /// The server-wide masker (what `POST /api/v1/privacy/test` applies without a service).
    pub fn base(&self) -> Option<&Masker> {
        self.base.as_deref()
    }

    /// Whether anything is masked anywhere.
    pub fn enabled(&self) -> bool {
        self.base.is_some() || self.overrides.iter().any(|(_, m)| m.is_some())
    }

    /// The detectors that run for some records.
    pub fn detector_names(&self) -> &[String] {
        &self.names
    }

    pub fn override_count(&self) -> usize {
        self.overrides.len()
    }

    pub fn mask_record(&self, r: &mut Record) -> Findings {
        match self.masker_for(&r.service, &r.environment) {
            Some(m) => m.mask_record(r),
            None => Findings::default(),
        }
    }

    pub fn mask_span(&self, s: &mut Span) -> Findings {
        match self.masker_for(&s.service, &s.environment) {
            Some(m) => m.mask_span(s),
            None => Findings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_text: &str) -> PrivacyConfig {
        #[derive(serde::Deserialize)]
        struct File {
            privacy: PrivacyConfig,
        }
        let file: File = toml::from_str(toml_text).unwrap();
        file.privacy
    }

    fn masked(rules: &Rules, service: &str, environment: &str, text: &str) -> String {
        let mut findings = Findings::default();
        let masker = rules.masker_for(service, environment);
        masker.and_then(|m| m.mask_text(text, &mut findings)).unwrap_or_else(|| text.to_string())
    }

    #[test]
    fn the_first_matching_override_applies() {
        let rules = Rules::new(&config(
            r#"
            [privacy]
            detectors = { ipv4 = false }
            [[privacy.overrides]]
            service = "edge-*"
            environment = "prod"
            detectors = { ipv4 = true }
            [[privacy.overrides]]
            environment = "dev"
            enabled = false
            "#,
        ))
        .unwrap();
        let text = "client 10.1.2.3 mail kim@example.com";
        assert_eq!(masked(&rules, "edge-gw", "prod", text), "client [REDACTED:ipv4] mail [REDACTED:email]");
        assert_eq!(masked(&rules, "edge-gw", "staging", text), "client 10.1.2.3 mail [REDACTED:email]");
        assert_eq!(masked(&rules, "orders", "prod", text), "client 10.1.2.3 mail [REDACTED:email]");
        assert_eq!(masked(&rules, "orders", "dev", text), text);
        assert!(rules.detector_names().iter().any(|n| n == "ipv4"));
    }

    #[test]
    fn an_override_can_switch_masking_on_where_it_is_off() {
        let rules = Rules::new(&config(
            r#"
            [privacy]
            enabled = false
            [[privacy.overrides]]
            service = "payments"
            enabled = true
            "#,
        ))
        .unwrap();
        assert!(rules.enabled());
        assert_eq!(masked(&rules, "payments", "", "card 4111 1111 1111 1111"), "card **** **** **** 1111");
        assert_eq!(masked(&rules, "orders", "", "card 4111 1111 1111 1111"), "card 4111 1111 1111 1111");
    }

    #[test]
    fn a_bad_override_is_named() {
        let err = Rules::new(&config(
            r#"
            [privacy]
            [[privacy.overrides]]
            service = "legacy"
            detectors = { no_such = true }
            "#,
        ))
        .err()
        .unwrap();
        assert!(err.0.contains("override 1") && err.0.contains("legacy") && err.0.contains("no_such"), "{err}");
    }
}
