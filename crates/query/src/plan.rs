//! What every match of a query must have, for skipping segments and row groups unread.

use trawl_model::{normalize_id, text, Level};
use trawl_storage::{IndexKey, RowGroupIndex, RowIndex, SegmentIndex, StoreError};

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

    /// Indexes (into the segment's service list) of the services allowed, None for any.
    fn allowed_services(&self, index: &SegmentIndex) -> Option<Vec<u32>> {
        let wanted = self.services.as_ref()?;
        Some(
            index
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| wanted.iter().any(|w| s.eq_ignore_ascii_case(w)))
                .map(|(i, _)| i as u32)
                .collect(),
        )
    }

    /// Row groups of `index` that may hold a match within `[start, end]`.
    pub fn row_groups(&self, index: &SegmentIndex, start: i64, end: i64) -> Vec<usize> {
        if index.max_time_ns < start || index.min_time_ns > end {
            return Vec::new();
        }
        let services = self.allowed_services(index);
        if services.as_ref().is_some_and(|s| s.is_empty()) {
            return Vec::new();
        }
        index
            .row_groups
            .iter()
            .enumerate()
            .filter(|(_, rg)| self.row_group_may_match(rg, services.as_deref(), start, end))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_group_may_match(&self, rg: &RowGroupIndex, services: Option<&[u32]>, start: i64, end: i64) -> bool {
        if rg.max_time_ns < start || rg.min_time_ns > end {
            return false;
        }
        if let Some(services) = services {
            if !rg.services.iter().any(|s| services.contains(s)) {
                return false;
            }
        }
        if let Some(levels) = &self.levels {
            if !levels.iter().any(|l| rg.has_level(*l)) {
                return false;
            }
        }
        if let Some(trace_id) = &self.trace_id {
            if !rg.may_contain_trace(trace_id) {
                return false;
            }
        }
        rg.may_contain_terms(&self.terms)
    }
}

impl Requirements {
    /// The rows of a segment that may match, from its row index: ascending, a superset of the
    /// rows meeting every requirement (the row blocks holding them; the search expression
    /// checks each row). None when the requirements name nothing the index holds.
    pub fn rows(&self, index: &RowIndex) -> Result<Option<Vec<u32>>, StoreError> {
        let mut lists: Vec<Vec<u32>> = Vec::new();
        if let Some(id) = &self.trace_id {
            lists.push(index.blocks(IndexKey::Trace(id))?);
        }
        for t in &self.terms {
            if lists.last().is_some_and(|l| l.is_empty()) {
                return Ok(Some(Vec::new()));
            }
            lists.push(index.blocks(IndexKey::Term(t))?);
        }
        let union_of = |keys: Vec<IndexKey<'_>>| -> Result<Vec<u32>, StoreError> {
            let mut all = Vec::new();
            for k in keys {
                all = trawl_storage::union_rows(&all, &index.blocks(k)?);
            }
            Ok(all)
        };
        if let Some(services) = &self.services {
            lists.push(union_of(services.iter().map(|s| IndexKey::Service(s)).collect())?);
        }
        if let Some(levels) = &self.levels {
            lists.push(union_of(levels.iter().map(|&l| IndexKey::Level(l)).collect())?);
        }
        lists.sort_by_key(|l| l.len());
        let mut lists = lists.into_iter();
        let Some(mut blocks) = lists.next() else { return Ok(None) };
        for l in lists {
            if blocks.is_empty() {
                break;
            }
            blocks = trawl_storage::intersect_rows(&blocks, &l);
        }
        Ok(Some(index.rows_of(&blocks)))
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
