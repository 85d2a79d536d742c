//! Sensitive data found and masked before anything is stored: payment cards (Luhn-checked),
//! Korean resident, alien and business registration numbers (check digits), passports,
//! driver's licences and phone numbers, e-mail addresses, credentials (bearer tokens, JWTs,
//! cloud and code-host tokens, private keys, passwords in URLs and `key=value` pairs), values of
//! sensitive attribute names, and the user's own patterns. Each finding is masked (a partial
//! mask such as `****-****-****-1234`, or `[REDACTED:<name>]`), hashed with a key, or its
//! attribute dropped. `docs/privacy.md` lists the formats and the measured corpus figures.

mod config;
mod detectors;
mod masker;
mod rules;
mod validate;

pub use validate::luhn;

pub use config::{Action, CustomDetector, Override, PrivacyConfig};
pub use detectors::{Builtin, Partial, Trigger, BUILTINS, SENSITIVE_ATTRIBUTES};
pub use masker::{Findings, Masker, MASKED_ATTRIBUTE, SENSITIVE_ATTRIBUTE};
pub use rules::Rules;

/// A configuration that cannot be compiled, with the reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("privacy: {0}")]
pub struct PrivacyError(pub String);
