//! `| stats`: groups and their aggregates, fed row by row (the buffer, tables) or a segment
//! batch at a time.
//!
//! The batch path reads the group keys and numeric inputs straight from the batch's columns:
//! core text columns, time bins, and typed attribute columns (format version 3) are read
//! without building a row view, and consecutive rows with the same key (segments are sorted by
//! service, level and time) reuse the group found for the previous row. Any other key or input
//! is evaluated on the row, so both paths give the same answer.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use arrow::array::{Array, StringArray};
use trawl_model::{Level, Record};
use trawl_storage::{AttrSource, RecordColumns, TypedArray};

use crate::ast::{core_field, AggFunc, Aggregate, GroupKey, ValueExpr};
use crate::eval::{BatchRow, RowView};
use crate::pipeline::{Budget, FastHash, Table};
use crate::search::{Columns, Sink};
use crate::value::{eval, is_time_field, Fields, Key, RecordFields, Value};
use crate::QueryError;

/// Aggregation state of one aggregate in one group.
enum AggState {
    Count(u64),
    Sum { sum: f64, n: u64 },
    Min(Option<Value>),
    Max(Option<Value>),
    /// Exact quantiles: every value is kept (and charged against the memory cap).
    Values(Vec<f64>),
    Uniq(HashSet<Key, FastHash>),
}

impl AggState {
    fn new(func: &AggFunc) -> AggState {
        match func {
            AggFunc::Count | AggFunc::CountIf(_) | AggFunc::Rate => AggState::Count(0),
            AggFunc::Sum(_) | AggFunc::Avg(_) => AggState::Sum { sum: 0.0, n: 0 },
            AggFunc::Min(_) => AggState::Min(None),
            AggFunc::Max(_) => AggState::Max(None),
            AggFunc::Quantile(..) => AggState::Values(Vec::new()),
            AggFunc::Uniq(_) => AggState::Uniq(HashSet::default()),
        }
    }
}

/// `| stats`: groups and their aggregate states.
pub(crate) struct Stats<'a> {
    aggregates: &'a [Aggregate],
    by: &'a [GroupKey],
    /// For each aggregate, the first aggregate reading the same expression (itself if none).
    first_same: Vec<usize>,
    /// For each aggregate, true when it is a quantile of the same input as an earlier quantile,
    /// whose values it uses.
    shares_values: Vec<bool>,
    /// Group key → position in `groups`.
    index: HashMap<Vec<Key>, usize, FastHash>,
    groups: Vec<(Vec<Key>, Vec<AggState>)>,
    /// The key of the row being added (kept for its allocation).
    key: Vec<Key>,
    /// The range, for `rate()` without a time bin; clipped to the data seen.
    start: i64,
    end: i64,
    seen_min: i64,
    seen_max: i64,
    budget: Budget,
}

impl<'a> Stats<'a> {
    pub fn new(aggregates: &'a [Aggregate], by: &'a [GroupKey], start: i64, end: i64, budget: Budget) -> Stats<'a> {
        let first_same = aggregates
            .iter()
            .enumerate()
            .map(|(i, a)| match agg_input(&a.func) {
                None => i,
                Some(e) => aggregates[..i].iter().position(|b| agg_input(&b.func) == Some(e)).unwrap_or(i),
            })
            .collect::<Vec<usize>>();
        let is_quantile = |i: usize| matches!(aggregates[i].func, AggFunc::Quantile(..));
        let shares_values = (0..aggregates.len()).map(|i| first_same[i] < i && is_quantile(i) && is_quantile(first_same[i])).collect();
        Stats { aggregates, by, first_same, shares_values, index: HashMap::default(), groups: Vec::new(), key: Vec::new(), start, end, seen_min: i64::MAX, seen_max: i64::MIN, budget }
    }

    /// The position of the group of `key`, made (and charged) when new.
    fn group(&mut self, key: &[Key]) -> Result<usize, QueryError> {
        if let Some(&g) = self.index.get(key) {
            return Ok(g);
        }
        let bytes = key.iter().map(Key::size).sum::<usize>() * 2 + 64 * self.aggregates.len() + 96;
        self.budget.charge(bytes, "its groups")?;
        let g = self.groups.len();
        self.groups.push((key.to_vec(), self.aggregates.iter().map(|a| AggState::new(&a.func)).collect()));
        self.index.insert(key.to_vec(), g);
        Ok(g)
    }

    fn saw(&mut self, time_ns: i64) {
        self.seen_min = self.seen_min.min(time_ns);
        self.seen_max = self.seen_max.max(time_ns);
    }

    pub fn add(&mut self, row: &dyn Fields, time_ns: i64) -> Result<(), QueryError> {
        self.saw(time_ns);
        // The key is built in a reused buffer; a group allocates its own copy once.
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        key.extend(self.by.iter().map(|k| match k {
            GroupKey::Field { field, .. } => row.get(field).into_key(),
            GroupKey::TimeBin { width_ns, .. } => Key::Time(time_ns.div_euclid(*width_ns) * width_ns),
        }));
        let g = self.group(&key);
        self.key = key;
        let g = g?;
        // Each aggregate's input for this row: `p50(x), p95(x), p99(x)` read `x` once.
        let mut inputs: Vec<Value> = Vec::with_capacity(self.aggregates.len());
        for (i, agg) in self.aggregates.iter().enumerate() {
            let input = match agg_input(&agg.func) {
                None => Value::Null,
                Some(_) if self.first_same[i] < i => inputs[self.first_same[i]].clone(),
                Some(e) => eval(e, row),
            };
            inputs.push(input);
        }
        self.update(g, &mut inputs)
    }

    /// Adds rows `selected` of a segment batch.
    pub fn add_batch(&mut self, cols: &RecordColumns<'_>, selected: &[u32]) -> Result<(), QueryError> {
        let parts: Vec<KeyPart<'_>> = self.by.iter().map(|k| KeyPart::of(k, cols)).collect();
        let inputs: Vec<Input<'_>> = self
            .aggregates
            .iter()
            .enumerate()
            .map(|(i, a)| match agg_input(&a.func) {
                None => Input::None,
                Some(_) if self.first_same[i] < i => Input::Same(self.first_same[i]),
                Some(e) => Input::of(e, cols),
            })
            .collect();
        let mut key = std::mem::take(&mut self.key);
        let mut values: Vec<Value> = Vec::with_capacity(inputs.len());
        let mut previous: Option<(usize, usize)> = None;
        for &i in selected {
            let i = i as usize;
            let time = cols.time.value(i);
            self.saw(time);
            let g = match previous {
                Some((p, g)) if parts.iter().all(|part| part.same(p, i)) => g,
                _ => {
                    key.clear();
                    key.extend(parts.iter().map(|part| part.key(cols, i)));
                    match self.group(&key) {
                        Ok(g) => g,
                        Err(e) => {
                            self.key = key;
                            return Err(e);
                        }
                    }
                }
            };
            previous = Some((i, g));
            values.clear();
            for input in &inputs {
                let v = input.value(cols, i, &values);
                values.push(v);
            }
            self.update(g, &mut values)?;
        }
        self.key = key;
        Ok(())
    }

    /// Applies one row's aggregate inputs to group `g`.
    fn update(&mut self, g: usize, inputs: &mut Vec<Value>) -> Result<(), QueryError> {
        let Stats { aggregates, shares_values, groups, budget, .. } = self;
        let states = &mut groups[g].1;
        for (i, ((agg, state), input)) in aggregates.iter().zip(states.iter_mut()).zip(inputs.drain(..)).enumerate() {
            match (&agg.func, state) {
                (AggFunc::Count | AggFunc::Rate, AggState::Count(n)) => *n += 1,
                (AggFunc::CountIf(_), AggState::Count(n)) => *n += u64::from(input.truthy()),
                (AggFunc::Sum(_) | AggFunc::Avg(_), AggState::Sum { sum, n }) => {
                    if let Some(x) = input.as_f64() {
                        *sum += x;
                        *n += 1;
                    }
                }
                (AggFunc::Min(_), AggState::Min(m)) => {
                    let v = input;
                    if !v.is_null() && m.as_ref().is_none_or(|cur| replaces(&v, cur, Ordering::Less)) {
                        *m = Some(v);
                    }
                }
                (AggFunc::Max(_), AggState::Max(m)) => {
                    let v = input;
                    if !v.is_null() && m.as_ref().is_none_or(|cur| replaces(&v, cur, Ordering::Greater)) {
                        *m = Some(v);
                    }
                }
                // `p50(x), p95(x)`: the values of `x` are kept once, by the first of them.
                (AggFunc::Quantile(..), AggState::Values(_)) if shares_values[i] => {}
                (AggFunc::Quantile(..), AggState::Values(values)) => {
                    if let Some(x) = input.as_f64() {
                        budget.charge(8, "exact percentiles")?;
                        values.push(x);
                    }
                }
                (AggFunc::Uniq(_), AggState::Uniq(set)) => {
                    let v = input;
                    if !v.is_null() {
                        let k = v.key();
                        if !set.contains(&k) {
                            budget.charge(k.size() + 16, "distinct values")?;
                            set.insert(k);
                        }
                    }
                }
                _ => unreachable!("states are made from their aggregates"),
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Table {
        let mut columns: Vec<String> = self.by.iter().map(|k| k.name().to_string()).collect();
        columns.extend(self.aggregates.iter().map(|a| a.name.clone()));
        let mut groups: Vec<(Vec<Key>, Vec<AggState>)> = self.groups;
        // A global `stats` over nothing still answers one row (count 0).
        if groups.is_empty() && self.by.is_empty() {
            groups.push((Vec::new(), self.aggregates.iter().map(|a| AggState::new(&a.func)).collect()));
        }
        let whole_seconds = {
            let lo = if self.start == i64::MIN { self.seen_min } else { self.start.max(self.seen_min.min(self.start.max(0))) };
            let hi = if self.end == i64::MAX { self.seen_max } else { self.end.min(trawl_model::now_ns()) };
            ((hi.saturating_sub(lo)) as f64 / 1e9).max(1.0)
        };
        let bin_seconds = self.by.iter().find_map(|k| match k {
            GroupKey::TimeBin { width_ns, .. } => Some(*width_ns as f64 / 1e9),
            _ => None,
        });
        let aggregates = self.aggregates;
        let mut rows: Vec<Vec<Value>> = groups
            .into_iter()
            .map(|(key, mut states)| {
                let mut row: Vec<Value> = key.iter().map(Key::to_value).collect();
                for (s, state) in states.iter_mut().enumerate() {
                    if let AggState::Values(values) = state {
                        values.retain(|v| !v.is_nan());
                        // Only the ranks the quantiles read are put in place: a few linear
                        // selections instead of a sort of every value.
                        let mut ranks: Vec<usize> = Vec::new();
                        for (i, agg) in aggregates.iter().enumerate() {
                            let source = if self.shares_values[i] { self.first_same[i] } else { i };
                            if let (AggFunc::Quantile(q, _), true) = (&agg.func, source == s) {
                                ranks.extend(quantile_ranks(values.len(), *q));
                            }
                        }
                        select_ranks(values, &mut ranks);
                    }
                }
                for (i, agg) in aggregates.iter().enumerate() {
                    if let AggFunc::Quantile(q, _) = &agg.func {
                        let source = if self.shares_values[i] { self.first_same[i] } else { i };
                        row.push(match &states[source] {
                            AggState::Values(selected) => quantile_of_selected(selected, *q),
                            _ => Value::Null,
                        });
                        continue;
                    }
                    let state = std::mem::replace(&mut states[i], AggState::Count(0));
                    row.push(match (&agg.func, state) {
                        (AggFunc::Rate, AggState::Count(n)) => Value::Float(n as f64 / bin_seconds.unwrap_or(whole_seconds)),
                        (_, AggState::Count(n)) => Value::Int(n as i64),
                        (AggFunc::Avg(_), AggState::Sum { sum, n }) => {
                            if n == 0 { Value::Null } else { Value::Float(sum / n as f64) }
                        }
                        (_, AggState::Sum { sum, n }) => if n == 0 { Value::Null } else { Value::Float(sum) },
                        (_, AggState::Min(v) | AggState::Max(v)) => v.unwrap_or(Value::Null),
                        (_, AggState::Values(_)) => Value::Null,
                        (_, AggState::Uniq(set)) => Value::Int(set.len() as i64),
                    });
                }
                row
            })
            .collect();
        // Time bins ascending, then the first aggregate descending: the biggest groups first.
        let n_keys = self.by.len();
        let time_key = self.by.iter().position(|k| matches!(k, GroupKey::TimeBin { .. }));
        rows.sort_by(|a, b| {
            let by_time = time_key.map_or(Ordering::Equal, |i| a[i].sort_cmp(&b[i]));
            by_time
                .then_with(|| match (a.get(n_keys), b.get(n_keys)) {
                    (Some(x), Some(y)) => y.sort_cmp(x),
                    _ => Ordering::Equal,
                })
                .then_with(|| a[..n_keys].iter().zip(&b[..n_keys]).map(|(x, y)| x.sort_cmp(y)).find(|o| *o != Ordering::Equal).unwrap_or(Ordering::Equal))
        });
        Table { columns, rows }
    }
}

/// The expression an aggregate reads, if any.
fn agg_input(func: &AggFunc) -> Option<&ValueExpr> {
    match func {
        AggFunc::Count | AggFunc::Rate => None,
        AggFunc::CountIf(e) | AggFunc::Sum(e) | AggFunc::Avg(e) | AggFunc::Min(e) | AggFunc::Max(e) | AggFunc::Quantile(_, e) | AggFunc::Uniq(e) => Some(e),
    }
}

/// The two ranks (0-based positions in sorted order) the `q` quantile of `n` values reads, and
/// the weight of the upper one.
fn quantile_rank(n: usize, q: f64) -> (usize, usize, f64) {
    let rank = q.clamp(0.0, 1.0) * n.saturating_sub(1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    (lo, hi, rank - lo as f64)
}

fn quantile_ranks(n: usize, q: f64) -> [usize; 2] {
    let (lo, hi, _) = quantile_rank(n, q);
    [lo, hi]
}

/// Puts the values of the given ranks in place, as a sort would (each at its position, smaller
/// values before it, larger after), by successive selections.
fn select_ranks(values: &mut [f64], ranks: &mut Vec<usize>) {
    ranks.sort_unstable();
    ranks.dedup();
    let (mut from, n) = (0, values.len());
    for &r in ranks.iter().filter(|&&r| r < n) {
        values[from..].select_nth_unstable_by(r - from, |a, b| a.total_cmp(b));
        from = r + 1;
    }
}

/// The linearly interpolated quantile of `values`, in which the ranks it reads
/// ([`quantile_ranks`]) are in place (without NaN; exact).
fn quantile_of_selected(values: &[f64], q: f64) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    let (lo, hi, frac) = quantile_rank(values.len(), q);
    Value::Float(values[lo] + (values[hi] - values[lo]) * frac)
}

pub(crate) struct StatsSink<'a> {
    pub stats: Stats<'a>,
}

impl Sink for StatsSink<'_> {
    fn offer<R: RowView>(&mut self, row: &R, _record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        self.stats.add(&RecordFields(row), row.time_ns())
    }

    fn batched(&self) -> bool {
        true
    }

    fn offer_batch(&mut self, cols: &RecordColumns<'_>, selected: &[u32]) -> Result<(), QueryError> {
        self.stats.add_batch(cols, selected)
    }

    fn columns(&self) -> Option<Columns> {
        let mut out = Columns::from(["time"]);
        for key in self.stats.by {
            if let GroupKey::Field { field, .. } = key {
                out.field(field);
            }
        }
        for agg in self.stats.aggregates {
            match &agg.func {
                AggFunc::Count | AggFunc::Rate => {}
                AggFunc::CountIf(v)
                | AggFunc::Sum(v)
                | AggFunc::Avg(v)
                | AggFunc::Min(v)
                | AggFunc::Max(v)
                | AggFunc::Quantile(_, v)
                | AggFunc::Uniq(v) => out.value(v),
            }
        }
        Some(out)
    }
}


/// How the batch path reads one group key.
enum KeyPart<'b> {
    /// A core text column; empty reads as null.
    Text(&'b StringArray),
    /// The body: empty is still text.
    Body(&'b StringArray),
    /// The level as stored, named as the row path names it.
    Level(&'b StringArray),
    Bin(&'b arrow::array::TimestampNanosecondArray, i64),
    /// Anything else, evaluated on the row.
    Row(&'b str),
}

impl<'b> KeyPart<'b> {
    fn of(key: &'b GroupKey, cols: &RecordColumns<'b>) -> KeyPart<'b> {
        match key {
            GroupKey::TimeBin { width_ns, .. } => KeyPart::Bin(cols.time, *width_ns),
            GroupKey::Field { field, .. } if is_time_field(field) => KeyPart::Row(field),
            GroupKey::Field { field, .. } => match core_field(field) {
                Some("service") => KeyPart::Text(cols.service),
                Some("trace_id") => KeyPart::Text(cols.trace_id),
                Some("span_id") => KeyPart::Text(cols.span_id),
                Some("host") => KeyPart::Text(cols.host),
                Some("environment") => KeyPart::Text(cols.environment),
                Some("body") => KeyPart::Body(cols.body),
                Some("level") => KeyPart::Level(cols.level),
                _ => KeyPart::Row(field),
            },
        }
    }

    /// True when rows `a` and `b` certainly have the same key (false when unsure).
    fn same(&self, a: usize, b: usize) -> bool {
        match self {
            KeyPart::Text(c) | KeyPart::Body(c) | KeyPart::Level(c) => c.is_valid(a) == c.is_valid(b) && c.value(a) == c.value(b),
            KeyPart::Bin(t, w) => t.value(a).div_euclid(*w) == t.value(b).div_euclid(*w),
            KeyPart::Row(_) => false,
        }
    }

    fn key(&self, cols: &RecordColumns<'_>, i: usize) -> Key {
        match self {
            KeyPart::Text(c) => {
                let s = c.value(i);
                if s.is_empty() { Key::Null } else { Key::Str(s.to_string()) }
            }
            KeyPart::Body(c) => Key::Str(c.value(i).to_string()),
            KeyPart::Level(c) => Key::Str(Level::parse(c.value(i)).unwrap_or(Level::Info).as_str().to_string()),
            KeyPart::Bin(t, w) => Key::Time(t.value(i).div_euclid(*w) * w),
            KeyPart::Row(field) => RecordFields(&BatchRow::new(cols, i)).get(field).into_key(),
        }
    }
}

/// How the batch path reads one aggregate's input.
enum Input<'b> {
    None,
    /// The input of an earlier aggregate.
    Same(usize),
    /// An attribute with a numeric typed column in the batch; rows without it use the row path.
    Number(TypedArray<'b>, &'b str),
    Expr(&'b ValueExpr),
}

impl<'b> Input<'b> {
    fn of(e: &'b ValueExpr, cols: &RecordColumns<'b>) -> Input<'b> {
        if let ValueExpr::Field(name) = e {
            if !is_time_field(name) && core_field(name).is_none() {
                if let Some(t) = cols.typed(AttrSource::Attributes, name) {
                    if matches!(t.array, TypedArray::Int(_) | TypedArray::Float(_)) {
                        return Input::Number(t.array, name);
                    }
                }
            }
        }
        Input::Expr(e)
    }

    fn value(&self, cols: &RecordColumns<'_>, i: usize, earlier: &[Value]) -> Value {
        match self {
            Input::None => Value::Null,
            Input::Same(j) => earlier[*j].clone(),
            Input::Number(TypedArray::Int(a), _) if a.is_valid(i) => Value::Int(a.value(i)),
            Input::Number(TypedArray::Float(a), _) if a.is_valid(i) => Value::Float(a.value(i)),
            Input::Number(_, name) => RecordFields(&BatchRow::new(cols, i)).get(name),
            Input::Expr(e) => eval(e, &RecordFields(&BatchRow::new(cols, i))),
        }
    }
}

/// True when `v` takes the place of `cur` as the minimum (`want` Less) or maximum (Greater).
/// Numbers equal across types (`1` and `1.0`) are told apart by type, the integer first, so
/// the answer does not depend on the order the rows come in (buffer or segment order).
fn replaces(v: &Value, cur: &Value, want: Ordering) -> bool {
    fn type_rank(v: &Value) -> u8 {
        match v {
            Value::Int(_) => 0,
            Value::Time(_) => 1,
            Value::Float(_) => 2,
            _ => 3,
        }
    }
    match v.sort_cmp(cur) {
        Ordering::Equal => type_rank(v) < type_rank(cur),
        o => o == want,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;
    use trawl_model::{AttrValue, Record};
    use trawl_storage::{Store, StoreConfig};

    use super::{quantile_of_selected, quantile_ranks, select_ranks};

    use crate::pipeline::{run_query, QueryLimits, QueryOutput, QueryRequest};

    const T0: i64 = 1_700_000_000_000_000_000;

    fn records(seed: &[(u8, u8, u16, u8)]) -> Vec<Record> {
        seed.iter()
            .enumerate()
            .map(|(i, &(svc, level, d, flags))| {
                let mut r = Record::new(T0 + i as i64 * 7_919_000_000);
                r.service = ["checkout", "payment", "web", ""][svc as usize % 4].to_string();
                r.level = trawl_model::Level::ALL[level as usize % trawl_model::Level::ALL.len()];
                r.host = if flags & 1 == 0 { "h1".into() } else { String::new() };
                r.body = format!("request {d}");
                if flags & 2 == 0 {
                    r.attributes.push(("d".into(), AttrValue::Int(d as i64)));
                } else if flags & 4 == 0 {
                    // Another type in some rows: the key stays in the JSON of that segment.
                    r.attributes.push(("d".into(), AttrValue::Float(d as f64 / 4.0)));
                }
                r.attributes.push(("code".into(), AttrValue::Str(format!("c{}", d % 5))));
                if flags & 8 == 0 {
                    r.resource.push(("region".into(), AttrValue::Str(["ap", "eu"][(d % 2) as usize].into())));
                } else {
                    // A resource key also found in attributes: attributes win, as in the row path.
                    r.resource.push(("d".into(), AttrValue::Int(1_000)));
                }
                r
            })
            .collect()
    }

    const QUERIES: [&str; 6] = [
        "| stats count(), p50(d), p95(d), p99(d), avg(d), min(d), max(d), uniq(code) by service",
        "level:error | stats count() by service, bin(time, 1m)",
        "| stats count(), sum(d) by level, region",
        "d:>50 | stats count_if(d > 100), rate() by code, host",
        "| where d > 10 | stats p90(d) by bin(time, 5m)",
        "| stats count(), max(body) by d",
    ];

    fn answer(store: &Store, q: &str) -> Vec<Vec<crate::Value>> {
        let query = crate::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let request = QueryRequest { query: &query, start_ns: T0, end_ns: T0 + 1_000_000 * 1_000_000_000, limit: 100_000, limits: QueryLimits::default(), cancel: None };
        match run_query(&store.snapshot(), &request).unwrap().output {
            QueryOutput::Table(t) => t.rows,
            QueryOutput::Records(_) => panic!("{q}: stats answers a table"),
        }
    }

    proptest! {
        /// Selecting the ranks a set of quantiles reads gives what sorting every value gives.
        #[test]
        fn selected_quantiles_equal_sorted_quantiles(
            values in proptest::collection::vec(-1e6f64..1e6, 0..300),
            qs in proptest::collection::vec(0.0f64..=1.0, 1..5),
        ) {
            let mut sorted = values.clone();
            sorted.sort_unstable_by(|a, b| a.total_cmp(b));
            let mut selected = values;
            let mut ranks: Vec<usize> = qs.iter().flat_map(|&q| quantile_ranks(selected.len(), q)).collect();
            select_ranks(&mut selected, &mut ranks);
            for &q in &qs {
                prop_assert_eq!(quantile_of_selected(&selected, q), quantile_of_selected(&sorted, q));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// The batch path over segments answers what the row path answers over the buffer.
        #[test]
        fn batch_path_equals_row_path(seed in proptest::collection::vec((0u8..4, 0u8..6, 0u16..300, 0u8..16), 1..400)) {
            let rows = records(&seed);
            let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let segments = Store::open(StoreConfig::new(dir_a.path())).unwrap();
            segments.write_blocking(rows.clone(), Vec::new()).unwrap();
            prop_assert!(segments.flush(Duration::from_secs(10)));
            prop_assert!(segments.snapshot().chunks.iter().all(|c| c.records.is_empty()));
            let buffer = Store::open(StoreConfig { flush_max_age: Duration::from_secs(3600), ..StoreConfig::new(dir_b.path()) }).unwrap();
            buffer.write_blocking(rows, Vec::new()).unwrap();
            prop_assert!(buffer.snapshot().segments.is_empty());
            for q in QUERIES {
                prop_assert_eq!(answer(&segments, q), answer(&buffer, q), "{}", q);
            }
        }
    }
}
