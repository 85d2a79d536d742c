//! The query language and the search executor.
//!
//! A query is parsed into an [`Expr`]; [`plan::Requirements`] extracts what every match must
//! have (services, levels, a trace id, index terms) so whole segments and row groups are skipped
//! before anything is read; [`search`] then visits the in-memory buffer and the remaining
//! segments newest first and stops once the newest `limit` matches are certain.

mod ast;
mod columns;
mod error;
mod error_messages;
mod eval;
mod fields;
mod parser;
mod pattern_groups;
mod pipeline;
mod pipes;
pub mod plan;
mod rootcause;
mod search;
mod slow;
mod sinks;
mod sql;
mod sql_guard;
mod stats;
mod trace;
mod value;

pub use ast::{core_field, AggFunc, Aggregate, BinOp, Compare, Expr, FieldTerm, GroupKey, Pipe, Query, SortKey, TimeFilter, ValueExpr};
pub use error::QueryError;
pub use error_messages::{error_messages, span_error_message, ErrorMessage, ErrorMessagesRequest, ErrorMessagesResult};
pub use eval::{record_matches, BatchRow, RowView};
pub use fields::{discover_fields, field_values, FieldInfo, FieldsReport};
pub use parser::{parse, parse_condition};
pub use pattern_groups::{pattern_groups, PatternGroup, PatternGroups, PatternGroupsRequest, PatternSample, SAMPLES_PER_GROUP};
pub use rootcause::{fetch_traces, root_cause, Anomaly, BaselineKind, ChangeKind, Figures, Finding, PatternFigure, RootCauseReport, RootCauseRequest, TimelineEvent, TimelineKind};
pub use slow::{slow_operations, SlowOperation, SlowReport, SlowRequest};
pub use search::{search, SearchRequest, SearchResult, SearchStats};
pub use pipeline::{run_query, QueryLimits, QueryOutput, QueryRequest, QueryResult, Table};
pub use sql::{is_sql, run_sql, SqlRequest};
pub use sql_guard::{check_sql, MAX_SQL_HEIGHT, MAX_SQL_NESTING, MAX_SQL_TOKENS, MAX_SQL_VALUE_BYTES};
pub use parser::{MAX_DEPTH, MAX_PHRASE_BYTES, MAX_SEARCH_TERMS};
pub use pipes::{MAX_EXPR_HEIGHT, MAX_TERMS};
pub use trace::{find_trace, TraceResult};
pub use value::{eval as eval_value, Column, Fields, TableRow, Value};
