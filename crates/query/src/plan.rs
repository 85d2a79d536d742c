//! What every match of a query must have, for skipping segments and row groups unread.

use trawl_model::{normalize_id, text, Level};
use trawl_storage::ScanFilter;

use crate::ast::{core_field, Expr, FieldTerm};

/// Conservative requirements: a row group failing any of them holds no match.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Requirements {
    /// Lowercased service names, one of which must match (None: any).
    pub services: Option<Vec<String>>,
    pub levels: Option<Vec<Level>>,
    pub trace_id: Option<String>,
    /// Index terms that must all be present.
    pub terms: Vec<String>,
}

impl Requirements {
    pub fn of(expr: Option<&Expr>) -> Requirements {
        let mut req = Requirements::default();
        if let Some(e) = expr {
            collect(e, &mut req);
        }
        req.terms.sort();
        req.terms.dedup();
        req
    }

    /// The scan filter of a search for these requirements within `[start, end]`.
    pub fn filter(&self, start_ns: i64, end_ns: i64) -> ScanFilter {
        ScanFilter {
            services: self.services.clone(),
            levels: self.levels.clone(),
            trace_ids: self.trace_id.clone().map(|id| vec![id]),
            terms: self.terms.clone(),
            ..ScanFilter::records(start_ns, end_ns)
        }
    }
}

fn intersect<T: PartialEq + Clone>(current: &mut Option<Vec<T>>, new: Vec<T>) {
    *current = Some(match current.take() {
        None => new,
        Some(old) => old.into_iter().filter(|x| new.contains(x)).collect(),
    });
}

fn collect(expr: &Expr, req: &mut Requirements) {
    match expr {
        Expr::And(items) => items.iter().for_each(|e| collect(e, req)),
        Expr::Text(phrase) => {
            for w in phrase.words() {
                req.terms.extend(text::required_terms(w));
            }
        }
        Expr::Field(FieldTerm::Equals { field, value }) => match core_field(field) {
            Some("service") => intersect(&mut req.services, vec![value.to_lowercase()]),
            Some("level") => {
                if let Some(l) = Level::parse(value) {
                    intersect(&mut req.levels, vec![l]);
                }
            }
            Some("trace_id") => req.trace_id = Some(normalize_id(value)),
            Some("body") => {
                for w in text::Phrase::new(value).words() {
                    req.terms.extend(text::required_terms(w));
                }
            }
            // An attribute equal to a text value holds that value's words, and attribute values
            // (record and resource) are indexed. Numbers are left out: `504` equals `504.0`.
            None if value.trim().parse::<f64>().is_err() => {
                for w in text::Phrase::new(value).words() {
                    req.terms.extend(text::required_terms(w));
                }
            }
            _ => {}
        },
        Expr::Or(items) => {
            // Only the simple, common form prunes: `service:a OR service:b`, `level:x OR level:y`.
            let mut services = Vec::new();
            let mut levels = Vec::new();
            for e in items {
                match e {
                    Expr::Field(FieldTerm::Equals { field, value }) if core_field(field) == Some("service") => {
                        services.push(value.to_lowercase())
                    }
                    Expr::Field(FieldTerm::Equals { field, value }) if core_field(field) == Some("level") => {
                        match Level::parse(value) {
                            Some(l) => levels.push(l),
                            None => return,
                        }
                    }
                    _ => return,
                }
            }
            if !services.is_empty() && levels.is_empty() {
                intersect(&mut req.services, services);
            } else if services.is_empty() && !levels.is_empty() {
                intersect(&mut req.levels, levels);
            }
        }
        Expr::Not(_) | Expr::Field(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn requirements_come_from_and_terms_only() {
        let r = Requirements::of(parse("service:Pay level:error timeout 결제가 -debug").unwrap().expr.as_ref());
        assert_eq!(r.services, Some(vec!["pay".to_string()]));
        assert_eq!(r.levels, Some(vec![Level::Error]));
        assert_eq!(r.terms, vec!["timeout".to_string(), "결제".to_string(), "제가".to_string()]);
        let r = Requirements::of(parse("user.id:User-42 status:504").unwrap().expr.as_ref());
        assert_eq!(r.terms, vec!["42".to_string(), "user".to_string()]);
        let r = Requirements::of(parse("timeout OR 결제").unwrap().expr.as_ref());
        assert_eq!(r, Requirements::default());
        let r = Requirements::of(parse("level:warn OR level:error").unwrap().expr.as_ref());
        assert_eq!(r.levels, Some(vec![Level::Warn, Level::Error]));
    }
}
