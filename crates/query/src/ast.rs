use trawl_model::text::Phrase;

/// A parsed query: the search expression (None matches everything).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub expr: Option<Expr>,
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
