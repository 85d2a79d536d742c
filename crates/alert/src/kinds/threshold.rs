//! Threshold rules: the rule's query over the window, and its condition on each result row.
//! Each row is a group (its `by` columns are the alert's labels); a query that returns
//! records instead of figures counts them (`| stats count() as count` is added).

use trawl_query::{Pipe, QueryOutput, TableRow, Value};

use crate::kinds::{EvalContext, EvalOutput};
use crate::labels::{clip_value, label_name_of, Labels};
use crate::rule::ThresholdRule;
use crate::state::{Sample, Scope};

/// The search part of a query's text: everything before the first `|` outside quotes,
/// backticks and `/regex/` values.
pub fn search_part(text: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match quote {
            Some(q) => {
                if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '/' if prev == ':' => quote = Some('/'),
                '|' => return text[..i].trim(),
                _ => {}
            },
        }
        prev = c;
    }
    text.trim()
}

pub fn evaluate(rule: &ThresholdRule, text: &str, ctx: &EvalContext<'_>, start: i64, end: i64) -> Result<EvalOutput, String> {
    let mut query = rule.query.clone();
    let first = query.pipes.iter().find(|p| !matches!(p, Pipe::Where(_))).cloned();
    let group_columns: Option<Vec<String>> = match &first {
        None => {
            let count = trawl_query::parse("| stats count() as count").map_err(|e| e.to_string())?;
            query.pipes.extend(count.pipes);
            Some(Vec::new())
        }
        Some(Pipe::Stats { by, .. }) if query.pipes.iter().filter(|p| !matches!(p, Pipe::Where(_))).count() == 1 => {
            Some(by.iter().map(|k| k.name().to_string()).collect())
        }
        Some(Pipe::Top { field, by, .. }) if query.pipes.iter().filter(|p| !matches!(p, Pipe::Where(_))).count() == 1 => {
            Some(by.iter().cloned().chain(std::iter::once(field.clone())).collect())
        }
        // Anything else: the columns that are not numbers are the groups.
        Some(_) => None,
    };
    let (start, end) = query.effective_range(start, end - 1, ctx.now_ns);
    let snapshot = ctx.store.snapshot();
    let request = trawl_query::QueryRequest {
        query: &query,
        start_ns: start,
        end_ns: end,
        limit: ctx.limits.max_groups + 1,
        limits: trawl_query::QueryLimits { timeout: ctx.limits.timeout, memory_bytes: ctx.limits.memory_bytes },
        cancel: ctx.cancel,
    };
    let result = trawl_query::run_query(&snapshot, &request).map_err(|e| e.to_string())?;
    for w in &result.warnings {
        ctx.store.report_corrupt(w.clone());
    }
    let table = match result.output {
        QueryOutput::Table(t) => t,
        QueryOutput::Records(_) => return Err("the query gives records, not figures: end it with `| stats …` or `| top …`".into()),
    };
    let mut out = EvalOutput { warnings: result.warnings, ..Default::default() };
    if result.truncated {
        out.warnings.push("the result was cut at the row cap".into());
    }
    let numeric = |v: &Value| matches!(v, Value::Int(_) | Value::Float(_));
    let label_columns: Vec<usize> = match &group_columns {
        Some(names) => table.columns.iter().enumerate().filter(|(_, c)| names.contains(c)).map(|(i, _)| i).collect(),
        None => (0..table.columns.len()).filter(|&i| table.rows.iter().any(|r| !numeric(&r[i]) && !r[i].is_null())).collect(),
    };
    let value_column = rule
        .value_column
        .as_ref()
        .and_then(|name| table.columns.iter().position(|c| c == name))
        .or_else(|| (0..table.columns.len()).find(|i| !label_columns.contains(i)));
    let search = search_part(text).to_string();
    for row in &table.rows {
        let mut labels = Labels::new();
        for &i in &label_columns {
            labels.insert(label_name_of(&table.columns[i]), clip_value(&row[i].to_text()));
        }
        let value = value_column.and_then(|i| row[i].as_f64()).unwrap_or(0.0);
        let active = trawl_query::eval_value(&rule.condition, &TableRow { columns: &table.columns, values: row }).truthy();
        let mut detail = serde_json::Map::new();
        for (c, v) in table.columns.iter().zip(row) {
            detail.insert(c.clone(), v.to_json());
        }
        out.samples.push(Sample {
            scope: Scope {
                service: labels.get("service").cloned(),
                operation: None,
                query: Some(search.clone()),
                metric: value_column.map(|i| table.columns[i].clone()).unwrap_or_default(),
                unit: String::new(),
            },
            labels,
            value,
            active,
            threshold: rule.threshold,
            band: None,
            detail,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_part_ends_at_the_first_real_pipe() {
        assert_eq!(search_part("level:error service:x | stats count()"), "level:error service:x");
        assert_eq!(search_part("\"a | b\" | stats count()"), "\"a | b\"");
        assert_eq!(search_part("msg:/a|b/ x | top 5 service"), "msg:/a|b/ x");
        assert_eq!(search_part("결제 실패"), "결제 실패");
        assert_eq!(search_part("| stats count()"), "");
    }
}
