//! Silences: matchers and a time span during which matching alerts are not notified (they
//! still fire, and the UI shows them as silenced), with who set them and why.

use serde::{Deserialize, Serialize};

use crate::labels::{all_match, Labels, Matcher};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at_ns: i64,
    pub ends_at_ns: i64,
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
    pub created_at_ns: i64,
}

/// Most matchers of one silence, longest comment.
pub const MAX_MATCHERS: usize = 32;
pub const MAX_COMMENT_BYTES: usize = 4096;

impl Silence {
    pub fn is_active(&self, now_ns: i64) -> bool {
        self.starts_at_ns <= now_ns && now_ns < self.ends_at_ns
    }

    pub fn mutes(&self, labels: &Labels, now_ns: i64) -> bool {
        self.is_active(now_ns) && all_match(&self.matchers, labels)
    }

    /// `active`, `pending` (starts later) or `expired`.
    pub fn status(&self, now_ns: i64) -> &'static str {
        if now_ns < self.starts_at_ns {
            "pending"
        } else if now_ns < self.ends_at_ns {
            "active"
        } else {
            "expired"
        }
    }

    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.matchers.is_empty() {
            problems.push("matchers: a silence needs at least one matcher (a silence of everything is refused)".to_string());
        }
        if self.matchers.len() > MAX_MATCHERS {
            problems.push(format!("matchers: at most {MAX_MATCHERS}"));
        }
        if self.matchers.iter().all(|m| m.matches(&Labels::new())) && !self.matchers.is_empty() {
            problems.push("matchers: they match an alert without labels, so they would silence everything".to_string());
        }
        if self.ends_at_ns <= self.starts_at_ns {
            problems.push("ends_at: must be after starts_at".to_string());
        }
        if self.created_by.trim().is_empty() {
            problems.push("created_by: say who sets the silence".to_string());
        }
        if self.comment.len() > MAX_COMMENT_BYTES || self.created_by.len() > 256 {
            problems.push(format!("comment: at most {MAX_COMMENT_BYTES} bytes; created_by: at most 256"));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silences_mute_matching_alerts_while_active() {
        let s = Silence {
            id: "s1".into(),
            matchers: vec![Matcher::parse("service=payment-service").unwrap()],
            starts_at_ns: 100,
            ends_at_ns: 200,
            created_by: "kim".into(),
            comment: "결제사 점검".into(),
            created_at_ns: 50,
        };
        assert!(s.check().is_empty());
        let l: Labels = [("service".to_string(), "payment-service".to_string())].into();
        assert!(s.mutes(&l, 150));
        assert!(!s.mutes(&l, 200));
        assert_eq!((s.status(99), s.status(150), s.status(200)), ("pending", "active", "expired"));
        let everything = Silence { matchers: vec![Matcher::parse("service=~.*").unwrap()], ..s };
        assert!(!everything.check().is_empty());
    }
}
