use trawl_model::text::Phrase;

/// A parsed query: the search expression (None matches everything), an in-query time range and
/// the pipes that transform what the search part matched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub expr: Option<Expr>,
    /// `_time:...` terms of the top-level AND, intersected.
    pub time: Option<TimeFilter>,
    pub pipes: Vec<Pipe>,
}

/// An in-query time range: `_time:15m` (the last 15 minutes) or `_time:[A TO B]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFilter {
    /// The last N nanoseconds before the query runs.
    Last(i64),
    /// Inclusive bounds, nanoseconds.
    Range(i64, i64),
}

impl TimeFilter {
    /// The absolute range at `now`.
    pub fn resolve(self, now_ns: i64) -> (i64, i64) {
        match self {
            TimeFilter::Last(d) => (now_ns.saturating_sub(d), now_ns),
            TimeFilter::Range(a, b) => (a, b),
        }
    }
}

impl Query {
    /// The request's range narrowed by the query's `_time` terms.
    pub fn effective_range(&self, start_ns: i64, end_ns: i64, now_ns: i64) -> (i64, i64) {
        match self.time {
            None => (start_ns, end_ns),
            Some(t) => {
                let (a, b) = t.resolve(now_ns);
                (start_ns.max(a), end_ns.min(b))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A bare word or a quoted phrase, matched against body, attribute values and ids.
    Text(Phrase),
    Field(FieldTerm),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition on one field. Field names: the core columns (`service`, `level`, `trace_id` or
/// `trace`, `span_id`, `host`, `environment` or `env`, `body`) or a flattened attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldTerm {
    /// `field:value` or `field:"value"`.
    Equals { field: String, value: String },
    /// `field:abc*`.
    Prefix { field: String, prefix: String },
    /// `field:*`.
    Exists { field: String },
    /// `field>=500`.
    Compare { field: String, op: Compare, value: f64 },
    /// `field:[100 TO 200]`, inclusive; numeric when both bounds are numbers, else by text.
    Range { field: String, low: String, high: String },
    /// `field:/regex/`.
    Regex { field: String, regex: Regex },
    /// A bare `word*`: a word of the body or of an attribute value starts with `prefix`.
    TextPrefix { prefix: String },
}

/// A compiled regular expression compared by its source text.
#[derive(Debug, Clone)]
pub struct Regex {
    pub source: String,
    pub compiled: regex::Regex,
}

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.source == other.source
    }
}

/// One stage after the search part.
#[derive(Debug, Clone, PartialEq)]
pub enum Pipe {
    Where(ValueExpr),
    Fields(Vec<String>),
    Sort(Vec<SortKey>),
    Limit(usize),
    Stats { aggregates: Vec<Aggregate>, by: Vec<GroupKey> },
    Top { n: usize, field: String, by: Option<String> },
    Traces { max_traces: usize },
    Patterns,
}

impl Pipe {
    pub fn name(&self) -> &'static str {
        match self {
            Pipe::Where(_) => "where",
            Pipe::Fields(_) => "fields",
            Pipe::Sort(_) => "sort",
            Pipe::Limit(_) => "limit",
            Pipe::Stats { .. } => "stats",
            Pipe::Top { .. } => "top",
            Pipe::Traces { .. } => "traces",
            Pipe::Patterns => "patterns",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

/// `count()`, `p95(duration_ms) AS p95`, ...
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub func: AggFunc,
    /// The output column name: the `AS` name or the aggregate as written.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AggFunc {
    Count,
    CountIf(ValueExpr),
    Sum(ValueExpr),
    Avg(ValueExpr),
    Min(ValueExpr),
    Max(ValueExpr),
    /// Quantile in (0, 1], e.g. 0.95 for `p95`.
    Quantile(f64, ValueExpr),
    Uniq(ValueExpr),
    /// Matches per second over the bucket (the `bin` width) or the whole range.
    Rate,
}

/// A `by` key: a field, or `bin(time, 1m)` (time rounded down to the width).
#[derive(Debug, Clone, PartialEq)]
pub enum GroupKey {
    Field { field: String, name: String },
    TimeBin { width_ns: i64, name: String },
}

impl GroupKey {
    pub fn name(&self) -> &str {
        match self {
            GroupKey::Field { name, .. } | GroupKey::TimeBin { name, .. } => name,
        }
    }
}

/// An expression over one row's fields, used by `where` and aggregate arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueExpr {
    Field(String),
    Number(f64),
    Text(String),
    Bool(bool),
    Null,
    Neg(Box<ValueExpr>),
    Not(Box<ValueExpr>),
    Binary(Box<ValueExpr>, BinOp, Box<ValueExpr>),
    /// `value in (list)`; `set` is the list as a lookup table when every item is a literal.
    In { value: Box<ValueExpr>, list: Vec<ValueExpr>, negated: bool, set: Option<std::sync::Arc<crate::value::InSet>> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Canonical name of a core column, or None for an attribute.
pub fn core_field(name: &str) -> Option<&'static str> {
    Some(match name {
        "service" | "service.name" => "service",
        "level" | "severity" => "level",
        "trace" | "trace_id" | "traceid" => "trace_id",
        "span_id" | "spanid" => "span_id",
        "host" | "host.name" => "host",
        "environment" | "env" => "environment",
        "body" | "message" | "msg" => "body",
        _ => return None,
    })
}
