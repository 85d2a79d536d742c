//! What keeps a SQL query from taking the server down, before and while DataFusion runs it.
//!
//! - [`check_sql`] reads the text with sqlparser's tokenizer (no recursion) before anything
//!   parses or plans it, and refuses a statement whose parsed tree would be too tall for the
//!   stack: parentheses nested too deep, or too many operators in a row (`a OR b OR ...`,
//!   `1+1+...`, `x::int::text...` each make a left-leaning chain one level per operator that
//!   the planner walks recursively).
//! - [`bound_functions`] replaces the functions that can build a large value out of a small
//!   input (`repeat('a', 1000000000)`, `lpad`, `replace`, `regexp_replace`, `concat`, ...) with
//!   the same functions behind a check of the value they would build, before building it, and
//!   of what they built; [`ConcatOperator`] does the same for the `||` operator, which
//!   DataFusion evaluates without a function. DataFusion's memory pool sees what operators hold
//!   (sorts, joins, groups), but not what a scalar function allocates; these checks do.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, LogicalPlan, Operator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::optimizer::analyzer::AnalyzerRule;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::QueryError;

/// Parentheses (subqueries, function calls, groups) nested in one statement.
pub const MAX_SQL_NESTING: usize = 48;
/// Height of the statement's expression tree as estimated from its operators: at each level of
/// parentheses, the operators written in a row plus the tallest group inside.
pub const MAX_SQL_HEIGHT: usize = 512;
/// Tokens of one statement.
pub const MAX_SQL_TOKENS: usize = 40_000;
/// Largest value a string function may build, in bytes.
pub const MAX_SQL_VALUE_BYTES: usize = 16 << 20;

/// Refuses a statement that would be too deep, too tall or too long to parse and plan safely.
/// Positions in errors are the statement's line and column.
pub fn check_sql(sql: &str) -> Result<(), QueryError> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql).tokenize_with_location().map_err(|e| QueryError::Invalid(format!("SQL: {e}")))?;
    // One entry per open parenthesis: operators at this level by precedence class, and the
    // tallest group inside. Operators of one class in a row make a left-leaning chain, one
    // level each; different classes nest into each other, a level per class.
    let mut levels: Vec<Level> = vec![Level::default()];
    let mut count = 0;
    for t in &tokens {
        let at = |message: String| QueryError::Syntax { message, line: t.span.start.line as usize, column: t.span.start.column as usize };
        match &t.token {
            Token::Whitespace(_) => continue,
            Token::LParen | Token::LBracket | Token::LBrace => {
                levels.push(Level::default());
                if levels.len() > MAX_SQL_NESTING + 1 {
                    return Err(at(format!("SQL nests parentheses deeper than {MAX_SQL_NESTING} levels")));
                }
            }
            Token::RParen | Token::RBracket | Token::RBrace if levels.len() > 1 => {
                let inner = levels.pop().unwrap_or_default().height();
                let last = levels.last_mut().expect("the outer level stays");
                last.inner = last.inner.max(inner + 1);
                if last.height() > MAX_SQL_HEIGHT {
                    return Err(at(format!("SQL expression is too deep: more than {MAX_SQL_HEIGHT} levels")));
                }
            }
            token => {
                if let Some(class) = operator_class(token) {
                    let last = levels.last_mut().expect("the outer level stays");
                    last.ops[class] += 1;
                    if last.height() > MAX_SQL_HEIGHT {
                        return Err(at(format!(
                            "SQL expression is too deep: more than {MAX_SQL_HEIGHT} levels (each operator of a chain such as a OR b OR ... or 1+1+... is a level)"
                        )));
                    }
                }
            }
        }
        count += 1;
        if count > MAX_SQL_TOKENS {
            return Err(at(format!("SQL statement has more than {MAX_SQL_TOKENS} tokens")));
        }
    }
    Ok(())
}

/// Precedence classes of `operator_class`.
const CLASSES: usize = 8;

#[derive(Default)]
struct Level {
    ops: [usize; CLASSES],
    inner: usize,
}

impl Level {
    /// The tallest chain of one class, a level for every other class present, and the tallest
    /// group inside.
    fn height(&self) -> usize {
        let longest = self.ops.iter().copied().max().unwrap_or(0);
        let classes = self.ops.iter().filter(|n| **n > 0).count();
        longest + classes.saturating_sub(1) + self.inner
    }
}

/// The precedence class of an operator or keyword that joins two operands into a node of the
/// tree; None for anything else.
fn operator_class(token: &Token) -> Option<usize> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => match w.keyword {
            Keyword::OR => Some(0),
            Keyword::AND => Some(1),
            Keyword::NOT | Keyword::IS | Keyword::LIKE | Keyword::ILIKE | Keyword::SIMILAR | Keyword::BETWEEN | Keyword::IN => Some(2),
            Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT => Some(6),
            Keyword::JOIN | Keyword::AT | Keyword::COLLATE => Some(7),
            _ => None,
        },
        Token::Eq | Token::DoubleEq | Token::Neq | Token::Lt | Token::Gt | Token::LtEq | Token::GtEq | Token::Spaceship => Some(2),
        Token::Plus | Token::Minus | Token::StringConcat => Some(3),
        Token::Mul | Token::Div | Token::Mod | Token::DuckIntDiv => Some(4),
        Token::DoubleColon => Some(5),
        Token::Comma | Token::Period | Token::SemiColon | Token::EOF | Token::Number(..) | Token::Char(_) | Token::Word(_) => None,
        // Other operators (bitwise, JSON arrows, ...) print as punctuation; literals print with
        // their quotes or prefix.
        other => {
            let text = other.to_string();
            text.chars().next().filter(|c| c.is_ascii_punctuation() && !matches!(c, '\'' | '"' | '$' | '`')).map(|_| 7)
        }
    }
}

/// Functions whose output can be much larger than their input, and how large it can be.
const BOUNDED: [&str; 8] = ["repeat", "lpad", "rpad", "replace", "regexp_replace", "overlay", "concat", "concat_ws"];

/// Replaces the session's functions that can build large values with bounded versions: a call
/// is refused before it builds a value over `MAX_SQL_VALUE_BYTES` or a batch of values over
/// `batch_bytes`, and after it built more than `batch_bytes` in a way the estimate missed.
pub(crate) fn bound_functions(ctx: &SessionContext, batch_bytes: usize) {
    let functions: Vec<Arc<ScalarUDF>> = ctx.state().scalar_functions().values().cloned().collect();
    for f in functions {
        if BOUNDED.contains(&f.name()) {
            ctx.register_udf(ScalarUDF::new_from_impl(Bounded { inner: f, batch_bytes }));
        }
    }
    ctx.register_udf(ScalarUDF::new_from_impl(ConcatOperator::udf(batch_bytes)));
    ctx.add_analyzer_rule(Arc::new(ConcatOperator { batch_bytes }));
}

fn too_large(what: &str, bytes: usize, limit: usize) -> DataFusionError {
    DataFusionError::ResourcesExhausted(format!("{what} would build {bytes} bytes, over the limit of {limit} bytes"))
}

/// Byte length of each row of a string-like argument (None for other types).
fn lengths(arg: &ColumnarValue, rows: usize) -> Option<Vec<usize>> {
    let array = arg.to_array(rows).ok()?;
    let utf8 = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            arrow::compute::cast(&array, &DataType::LargeBinary).ok()?
        }
        _ => return None,
    };
    let b = utf8.as_binary::<i64>();
    Some((0..b.len()).map(|i| if b.is_null(i) { 0 } else { b.value(i).len() }).collect())
}

/// Each row of an integer argument (0 for nulls and other types).
fn integers(arg: &ColumnarValue, rows: usize) -> Vec<i64> {
    let Ok(array) = arg.to_array(rows) else { return vec![0; rows] };
    match arrow::compute::cast(&array, &DataType::Int64) {
        Ok(a) => {
            let a = a.as_primitive::<arrow::datatypes::Int64Type>();
            (0..a.len()).map(|i| if a.is_null(i) { 0 } else { a.value(i) }).collect()
        }
        Err(_) => vec![0; rows],
    }
}

/// The most bytes each row's value may have, for a function in `BOUNDED`.
fn estimate(name: &str, args: &[ColumnarValue], rows: usize) -> Vec<usize> {
    let len = |i: usize| args.get(i).and_then(|a| lengths(a, rows)).unwrap_or_else(|| vec![0; rows]);
    let int = |i: usize| args.get(i).map(|a| integers(a, rows)).unwrap_or_else(|| vec![0; rows]);
    let n = |v: i64| usize::try_from(v).unwrap_or(0);
    match name {
        "repeat" => {
            let (s, k) = (len(0), int(1));
            (0..rows).map(|r| s[r].saturating_mul(n(k[r]))).collect()
        }
        // Characters up to four bytes each.
        "lpad" | "rpad" => {
            let (s, k) = (len(0), int(1));
            (0..rows).map(|r| s[r].saturating_add(n(k[r]).saturating_mul(4))).collect()
        }
        "replace" => {
            let (s, from, to) = (len(0), len(1), len(2));
            (0..rows).map(|r| s[r].saturating_add((s[r] / from[r].max(1) + 1).saturating_mul(to[r]))).collect()
        }
        // A replacement may name groups (`$1`), each up to the whole input.
        "regexp_replace" => {
            let (s, to) = (len(0), len(2));
            (0..rows).map(|r| s[r].saturating_add((s[r] + 1).saturating_mul(to[r].saturating_mul(s[r].max(1))))).collect()
        }
        // concat_ws: the parts, and the separator between each two.
        "concat_ws" => {
            let parts: Vec<Vec<usize>> = (0..args.len()).map(len).collect();
            let separators = args.len().saturating_sub(2);
            (0..rows).map(|r| parts[1..].iter().map(|p| p[r]).sum::<usize>().saturating_add(parts[0][r].saturating_mul(separators))).collect()
        }
        // concat, overlay: at most the sum of the parts.
        _ => {
            let parts: Vec<Vec<usize>> = (0..args.len()).map(len).collect();
            (0..rows).map(|r| parts.iter().map(|p| p[r]).sum::<usize>()).collect()
        }
    }
}

fn check_estimate(name: &str, rows: &[usize], batch_bytes: usize) -> DfResult<()> {
    if let Some(&biggest) = rows.iter().max() {
        if biggest > MAX_SQL_VALUE_BYTES {
            return Err(too_large(name, biggest, MAX_SQL_VALUE_BYTES));
        }
    }
    let total = rows.iter().fold(0usize, |a, b| a.saturating_add(*b));
    if total > batch_bytes {
        return Err(too_large(&format!("{name} over one batch"), total, batch_bytes));
    }
    Ok(())
}

fn check_built(name: &str, value: &ColumnarValue, batch_bytes: usize) -> DfResult<()> {
    let bytes = match value {
        ColumnarValue::Array(a) => a.get_array_memory_size(),
        ColumnarValue::Scalar(s) => s.size(),
    };
    if bytes > batch_bytes {
        return Err(too_large(name, bytes, batch_bytes));
    }
    Ok(())
}

/// A function of `BOUNDED`, checked before and after it runs; otherwise the same function.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    batch_bytes: usize,
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<arrow::datatypes::FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn is_nullable(&self, args: &[Expr], schema: &dyn datafusion::common::ExprSchema) -> bool {
        #[allow(deprecated)]
        self.inner.is_nullable(args, schema)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
    // `simplify` is left out on purpose: a function's own simplification may rewrite the call
    // into the unbounded function; constant folding still runs `invoke_with_args`, below.
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let name = self.inner.name();
        let call = format!("{name}()");
        check_estimate(&call, &estimate(name, &args.args, args.number_rows.max(1)), self.batch_bytes)?;
        let out = self.inner.invoke_with_args(args)?;
        check_built(&call, &out, self.batch_bytes)?;
        Ok(out)
    }
}

/// `a || b` on text, as a function that checks the size of what it builds: the analyzer rule
/// rewrites every string `||` into `trawl_concat_op(a, b)` (null when either side is null, as
/// `||` is; `concat()` reads null as empty). The result keeps the operand's type.
#[derive(Debug)]
pub(crate) struct ConcatOperator {
    batch_bytes: usize,
}

const CONCAT_OP: &str = "trawl_concat_op";

impl ConcatOperator {
    fn udf(batch_bytes: usize) -> ConcatOperatorUdf {
        ConcatOperatorUdf { signature: Signature::any(2, Volatility::Immutable), batch_bytes }
    }
}

impl AnalyzerRule for ConcatOperator {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> DfResult<LogicalPlan> {
        let udf = Arc::new(ScalarUDF::new_from_impl(ConcatOperator::udf(self.batch_bytes)));
        plan.transform_up_with_subqueries(|plan| {
            plan.map_expressions(|e| {
                e.transform_up(|e| match e {
                    Expr::BinaryExpr(b) if b.op == Operator::StringConcat => {
                        let call = Expr::ScalarFunction(ScalarFunction::new_udf(udf.clone(), vec![*b.left, *b.right]));
                        Ok(Transformed::yes(call))
                    }
                    other => Ok(Transformed::no(other)),
                })
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "trawl_bounded_concat_operator"
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ConcatOperatorUdf {
    signature: Signature,
    batch_bytes: usize,
}

impl ScalarUDFImpl for ConcatOperatorUdf {
    fn name(&self) -> &str {
        CONCAT_OP
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    /// Named as the `a || b` it replaced, so the plan's column names stay what they were.
    fn schema_name(&self, args: &[Expr]) -> DfResult<String> {
        Ok(args.iter().map(|a| a.schema_name().to_string()).collect::<Vec<_>>().join(" || "))
    }
    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match arg_types.first() {
            Some(t @ (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)) => t.clone(),
            _ => DataType::Utf8,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if scalar { 1 } else { args.number_rows };
        let sizes: Vec<Vec<usize>> = args.args.iter().map(|a| lengths(a, rows).unwrap_or_else(|| vec![64; rows])).collect();
        let per_row: Vec<usize> = (0..rows).map(|r| sizes.iter().map(|s| s[r]).sum()).collect();
        check_estimate("||", &per_row, self.batch_bytes)?;
        let texts: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows).and_then(|a| Ok(arrow::compute::cast(&a, &DataType::Utf8)?)))
            .collect::<DfResult<_>>()?;
        let total: usize = per_row.iter().sum();
        let mut out = StringBuilder::with_capacity(rows, total);
        for r in 0..rows {
            if texts.iter().any(|t| t.is_null(r)) {
                out.append_null();
                continue;
            }
            let joined: String = texts.iter().map(|t| t.as_string::<i32>().value(r)).collect();
            out.append_value(joined);
        }
        let out: ArrayRef = Arc::new(out.finish());
        let out = arrow::compute::cast(&out, args.return_field.data_type())?;
        Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { ColumnarValue::Array(out) })
    }
}

/// DataFusion's memory pool for one query: the query's cap (a greedy pool), and what it
/// reserves shows in the process's `queries` gauge; a reservation is refused once the process
/// is over its memory cap, whatever the query's own cap says.
#[derive(Debug)]
pub(crate) struct TrackedPool {
    inner: datafusion::execution::memory_pool::GreedyMemoryPool,
}

impl TrackedPool {
    pub(crate) fn new(limit: usize) -> TrackedPool {
        TrackedPool { inner: datafusion::execution::memory_pool::GreedyMemoryPool::new(limit) }
    }
}

impl std::fmt::Display for TrackedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "trawl query pool: {}", self.inner)
    }
}

impl Drop for TrackedPool {
    fn drop(&mut self) {
        use datafusion::execution::memory_pool::MemoryPool;
        trawl_model::memory::QUERIES.sub(self.inner.reserved());
    }
}

impl datafusion::execution::memory_pool::MemoryPool for TrackedPool {
    fn name(&self) -> &str {
        "trawl_query_pool"
    }
    fn register(&self, consumer: &datafusion::execution::memory_pool::MemoryConsumer) {
        self.inner.register(consumer)
    }
    fn unregister(&self, consumer: &datafusion::execution::memory_pool::MemoryConsumer) {
        self.inner.unregister(consumer)
    }
    fn grow(&self, reservation: &datafusion::execution::memory_pool::MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
        trawl_model::memory::QUERIES.add(additional);
    }
    fn shrink(&self, reservation: &datafusion::execution::memory_pool::MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
        trawl_model::memory::QUERIES.sub(shrink);
    }
    fn try_grow(&self, reservation: &datafusion::execution::memory_pool::MemoryReservation, additional: usize) -> DfResult<()> {
        if let Err(p) = trawl_model::memory::over_cap() {
            return Err(DataFusionError::ResourcesExhausted(format!("{SERVER_MEMORY}: {p}")));
        }
        self.inner.try_grow(reservation, additional)?;
        trawl_model::memory::QUERIES.add(additional);
        Ok(())
    }
    fn reserved(&self) -> usize {
        self.inner.reserved()
    }
    fn memory_limit(&self) -> datafusion::execution::memory_pool::MemoryLimit {
        self.inner.memory_limit()
    }
}

/// Starts the reason of a reservation refused for the process's memory, not the query's.
pub(crate) const SERVER_MEMORY: &str = "server memory";
