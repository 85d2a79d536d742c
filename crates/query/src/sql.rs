//! SQL over the tables `logs` and `spans`, run by Apache DataFusion.
//!
//! A query starting with `SELECT` or `WITH` is SQL. Before DataFusion reads anything, the
//! segments outside the request's time range are left out of the tables, and the time filter is
//! part of each table's definition, so DataFusion's Parquet pruning skips row groups and pages by
//! their time statistics. The buffer joins as an in-memory table. Only queries run: DDL, DML and
//! statements (`SET`, transactions) are refused before planning finishes.
//!
//! `logs`: `time observed_time service environment host level severity_number trace_id span_id
//! body attributes resource pattern_id` (attributes and resource are JSON objects as text; `attr(attributes,
//! 'http.route')` reads one of them as text). Segments keep frequent keys in typed columns; the
//! table puts them back into `attributes` and `resource`, so SQL sees every key in its object.
//! A key typed differently in two segments is read as text from both.
//! `spans`: `start duration_ns trace_id span_id parent_span_id service environment host name kind
//! status_code status_message attributes resource events links`.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Int16Type, Int32Type, Int64Type, Int8Type, SchemaRef, TimeUnit, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::{col, ident, lit, SQLOptions, SessionConfig, SessionContext};
use trawl_storage::{record_batch, record_schema, span_batch, span_schema, AttrSource, ScanFilter, SegmentKind, Snapshot, TypedArray};

use crate::pipeline::{QueryLimits, QueryOutput, QueryResult, Table};
use crate::search::SearchStats;
use crate::value::Value;
use crate::QueryError;

/// Statements that write or change the session: written in capitals at the start of a query they
/// are taken as SQL, so they are refused as SQL instead of being searched for as words.
const WRITING_STATEMENTS: [&str; 12] =
    ["CREATE", "INSERT", "UPDATE", "DELETE", "DROP", "ALTER", "COPY", "SET", "TRUNCATE", "MERGE", "BEGIN", "COMMIT"];

/// True when `text` is SQL: its first word is `SELECT`, `WITH` or `EXPLAIN` (any case), or a
/// writing statement in capitals followed by more text.
pub fn is_sql(text: &str) -> bool {
    let text = text.trim_start();
    let first: String = text.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    if ["select", "with", "explain"].iter().any(|k| first.eq_ignore_ascii_case(k)) {
        return text[first.len()..].starts_with(|c: char| c.is_whitespace() || c == '(' || c == '*');
    }
    WRITING_STATEMENTS.contains(&first.as_str()) && text[first.len()..].starts_with(char::is_whitespace)
}

pub struct SqlRequest<'a> {
    pub sql: &'a str,
    /// Inclusive, nanoseconds.
    pub start_ns: i64,
    pub end_ns: i64,
    /// Most rows in the answer.
    pub limit: usize,
    pub limits: QueryLimits,
}

/// Plans and runs `request` over `snapshot`. The caller bounds the time (a timeout around this
/// future) and cancels by dropping it.
pub async fn run_sql(snapshot: &Snapshot, request: &SqlRequest<'_>) -> Result<QueryResult, QueryError> {
    let started = Instant::now();
    if request.start_ns > request.end_ns {
        return Err(QueryError::Invalid("start is after end".into()));
    }
    crate::sql_guard::check_sql(request.sql)?;
    let pool = Arc::new(crate::sql_guard::TrackedPool::new(request.limits.memory_bytes));
    let runtime = RuntimeEnvBuilder::new().with_memory_pool(pool).build_arc().map_err(df_error)?;
    let mut config = SessionConfig::new().with_target_partitions(2).with_information_schema(false);
    config.options_mut().sql_parser.recursion_limit =
        datafusion::common::config::ConfigNonZeroUsize::try_new(crate::sql_guard::MAX_SQL_NESTING + 2).map_err(df_error)?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    ctx.register_udf(attr_udf());
    crate::sql_guard::bound_functions(&ctx, request.limits.memory_bytes / 4);

    let mut stats = SearchStats::default();
    for (name, kind) in [("logs", SegmentKind::Records), ("spans", SegmentKind::Spans)] {
        let table = time_bounded_table(&ctx, snapshot, kind, request.start_ns, request.end_ns, &mut stats).await?;
        ctx.register_table(name, table).map_err(df_error)?;
    }

    let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let df = ctx.sql_with_options(request.sql, options).await.map_err(df_error)?;
    let df = df.limit(0, Some(request.limit + 1)).map_err(df_error)?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(df_error)?;
    let mut table = batches_to_table(&schema, &batches, request.limits.memory_bytes)?;
    let truncated = table.rows.len() > request.limit;
    table.rows.truncate(request.limit);
    stats.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(QueryResult { output: QueryOutput::Table(table), stats, warnings: Vec::new(), truncated })
}

/// One table: the segments of `kind` that overlap the range, plus the buffer, both filtered to
/// the range inside the table's definition.
async fn time_bounded_table(
    ctx: &SessionContext,
    snapshot: &Snapshot,
    kind: SegmentKind,
    start: i64,
    end: i64,
    stats: &mut SearchStats,
) -> Result<Arc<dyn TableProvider>, QueryError> {
    let (schema, time_column) = match kind {
        SegmentKind::Records => (record_schema(), "time"),
        SegmentKind::Spans => (span_schema(), "start"),
    };
    // Segments of older format versions lack newer columns: those read as NULL.
    let mut urls = Vec::new();
    // Typed attribute columns of the segments read, by name; a name typed two ways is text.
    let mut typed: std::collections::BTreeMap<String, (AttrSource, String, DataType)> = Default::default();
    // The same pruning and buffer filter as every other read (`Snapshot::scan`); DataFusion
    // then reads the segments' Parquet files itself.
    let filter = ScanFilter::new(kind, start, end);
    let segments = filter.segments(snapshot);
    let total = snapshot.segments.iter().filter(|s| s.kind == kind).count();
    stats.segments_total += total;
    stats.segments_skipped += total - segments.len();
    for seg in segments {
        for c in &seg.index.columns {
            let ty = c.field().data_type().clone();
            typed
                .entry(c.name())
                .and_modify(|e| {
                    if e.2 != ty {
                        e.2 = DataType::Utf8;
                    }
                })
                .or_insert((c.source, c.key.clone(), ty));
        }
        stats.segments_scanned += 1;
        stats.bytes_scanned += seg.n_bytes;
        let url = ListingTableUrl::parse(seg.path.to_string_lossy()).map_err(df_error)?;
        urls.push(url);
    }
    let schema = {
        let mut fields: Vec<arrow::datatypes::Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(typed.iter().map(|(name, (_, _, ty))| arrow::datatypes::Field::new(name, ty.clone(), true)));
        all_nullable(&Arc::new(arrow::datatypes::Schema::new(fields)))
    };
    let buffered = match kind {
        SegmentKind::Records => {
            let rows: Vec<_> = filter.buffered_records(snapshot).collect();
            stats.buffer_rows_scanned += rows.len();
            record_batch(&rows)
        }
        SegmentKind::Spans => {
            let rows: Vec<_> = filter.buffered_spans(snapshot).collect();
            stats.buffer_rows_scanned += rows.len();
            span_batch(&rows)
        }
    }
    .and_then(|b| {
        let n = b.num_rows();
        let mut columns = b.columns().to_vec();
        columns.extend(typed.values().map(|(_, _, ty)| arrow::array::new_null_array(ty, n)));
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| trawl_storage::StoreError::Internal(e.to_string()))
    })
    .map_err(|e| QueryError::Internal(format!("the buffer as a table: {e}")))?;
    let memory = MemTable::try_new(schema.clone(), vec![vec![buffered]]).map_err(df_error)?;
    let mut df = ctx.read_table(Arc::new(memory)).map_err(df_error)?;
    if !urls.is_empty() {
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(schema);
        let segments = ListingTable::try_new(config).map_err(df_error)?;
        let ts = |ns: i64| lit(ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into())));
        let from_segments = ctx
            .read_table(Arc::new(segments))
            .and_then(|d| d.filter(col(time_column).gt_eq(ts(start)).and(col(time_column).lt_eq(ts(end)))))
            .map_err(df_error)?;
        df = from_segments.union(df).map_err(df_error)?;
    }
    if !typed.is_empty() {
        // Every key back into its object; the typed columns leave the table.
        let base = record_schema();
        let exprs: Vec<datafusion::prelude::Expr> = base
            .fields()
            .iter()
            .map(|f| {
                let source = match f.name().as_str() {
                    "attributes" => AttrSource::Attributes,
                    "resource" => AttrSource::Resource,
                    name => return col(name),
                };
                let mine: Vec<(&String, &(AttrSource, String, DataType))> = typed.iter().filter(|(_, t)| t.0 == source).collect();
                if mine.is_empty() {
                    return col(f.name());
                }
                let keys: Vec<String> = mine.iter().map(|(_, t)| t.1.clone()).collect();
                let mut args = vec![col(f.name())];
                args.extend(mine.iter().map(|(name, _)| ident(name.as_str())));
                let types: Vec<DataType> = std::iter::once(DataType::Utf8).chain(mine.iter().map(|(_, t)| t.2.clone())).collect();
                merge_udf(f.name(), keys, types).call(args).alias(f.name())
            })
            .collect();
        df = df.select(exprs).map_err(df_error)?;
    }
    Ok(df.into_view())
}

/// `trawl_merge_<column>(json, typed...)`: the JSON object with the typed columns' keys put
/// back (a record lacking a key has null in its column).
fn merge_udf(column: &str, keys: Vec<String>, types: Vec<DataType>) -> datafusion::logical_expr::ScalarUDF {
    let f = Arc::new(move |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        let len = args.iter().find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        });
        let n = len.unwrap_or(1);
        let arrays: Vec<ArrayRef> = args.iter().map(|a| a.to_array(n)).collect::<datafusion::error::Result<_>>()?;
        let objects = arrays[0].as_string::<i32>();
        let typed: Vec<Option<TypedArray<'_>>> = arrays[1..].iter().map(TypedArray::new).collect();
        let out: StringArray = (0..n)
            .map(|i| {
                let present: Vec<(usize, serde_json::Value)> = typed
                    .iter()
                    .enumerate()
                    .filter_map(|(k, t)| Some((k, t.as_ref()?.value(i)?.to_json())))
                    .collect();
                if objects.is_null(i) && present.is_empty() {
                    return None;
                }
                let json = if objects.is_null(i) { "{}" } else { objects.value(i) };
                if present.is_empty() {
                    return Some(json.to_string());
                }
                let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
                for (k, v) in present {
                    map.insert(keys[k].clone(), v);
                }
                Some(serde_json::Value::Object(map).to_string())
            })
            .collect();
        let out: ArrayRef = Arc::new(out);
        Ok(match len {
            Some(_) => ColumnarValue::Array(out),
            None => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
        })
    });
    create_udf(&format!("trawl_merge_{column}"), types, DataType::Utf8, Volatility::Immutable, f)
}

fn all_nullable(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<arrow::datatypes::Field> = schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    Arc::new(arrow::datatypes::Schema::new(fields))
}

/// `attr(json_object_text, key)`: the value of `key` as text, NULL when absent.
fn attr_udf() -> datafusion::logical_expr::ScalarUDF {
    let f = Arc::new(|args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        let len = args.iter().find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        });
        let arrays: Vec<ArrayRef> = args.iter().map(|a| a.to_array(len.unwrap_or(1))).collect::<datafusion::error::Result<_>>()?;
        let (objects, keys) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
        let out: StringArray = (0..objects.len())
            .map(|i| {
                if objects.is_null(i) || keys.is_null(i) {
                    return None;
                }
                let value: serde_json::Value = serde_json::from_str(objects.value(i)).ok()?;
                match value.get(keys.value(i))? {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                }
            })
            .collect();
        let out: ArrayRef = Arc::new(out);
        Ok(match len {
            Some(_) => ColumnarValue::Array(out),
            None => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
        })
    });
    create_udf("attr", vec![DataType::Utf8, DataType::Utf8], DataType::Utf8, Volatility::Immutable, f)
}

fn df_error(e: DataFusionError) -> QueryError {
    match e.find_root() {
        DataFusionError::ResourcesExhausted(r) if r.starts_with(crate::sql_guard::SERVER_MEMORY) => {
            QueryError::Overloaded(r.trim_start_matches(crate::sql_guard::SERVER_MEMORY).trim_start_matches(": ").to_string())
        }
        DataFusionError::ResourcesExhausted(r) => {
            QueryError::TooLarge(format!("the query needs more than its memory cap: {r}; narrow the time range or the query"))
        }
        DataFusionError::SQL(..) | DataFusionError::Plan(_) | DataFusionError::SchemaError(..) | DataFusionError::NotImplemented(_) => {
            QueryError::Invalid(format!("SQL: {}", first_line(&e.find_root().to_string())))
        }
        // Reading the segments failed: the disk, not the query.
        root @ (DataFusionError::IoError(_) | DataFusionError::ParquetError(_) | DataFusionError::ObjectStore(_)) => {
            QueryError::Storage(first_line(&root.to_string()))
        }
        root @ DataFusionError::Internal(_) => QueryError::Internal(format!("SQL: {}", first_line(&root.to_string()))),
        // Execution and Arrow errors come from the query's values (a cast, a division by zero,
        // a bad pattern): the request's fault.
        other => QueryError::Invalid(format!("SQL: {}", first_line(&other.to_string()))),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).to_string()
}

/// Arrow batches as a result table; types trawl does not show natively become text.
/// The answer is held whole: more than `memory_bytes` of batches is refused.
fn batches_to_table(schema: &SchemaRef, batches: &[RecordBatch], memory_bytes: usize) -> Result<Table, QueryError> {
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let held: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
    if held > memory_bytes / 2 {
        return Err(QueryError::TooLarge(format!(
            "the answer holds {held} bytes, over half the query's memory cap of {memory_bytes} bytes; select fewer or smaller columns or rows"
        )));
    }
    let mut rows = Vec::new();
    for batch in batches {
        let n = batch.num_rows();
        let mut batch_rows: Vec<Vec<Value>> = (0..n).map(|_| Vec::with_capacity(columns.len())).collect();
        for column in batch.columns() {
            for (i, row) in batch_rows.iter_mut().enumerate() {
                row.push(cell(column, i)?);
            }
        }
        rows.extend(batch_rows);
    }
    Ok(Table { columns, rows })
}

fn cell(a: &ArrayRef, i: usize) -> Result<Value, QueryError> {
    if a.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(i)),
        DataType::Int8 => Value::Int(a.as_primitive::<Int8Type>().value(i).into()),
        DataType::Int16 => Value::Int(a.as_primitive::<Int16Type>().value(i).into()),
        DataType::Int32 => Value::Int(a.as_primitive::<Int32Type>().value(i).into()),
        DataType::Int64 => Value::Int(a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Value::Int(a.as_primitive::<UInt8Type>().value(i).into()),
        DataType::UInt16 => Value::Int(a.as_primitive::<UInt16Type>().value(i).into()),
        DataType::UInt32 => Value::Int(a.as_primitive::<UInt32Type>().value(i).into()),
        DataType::UInt64 => {
            let v = a.as_primitive::<UInt64Type>().value(i);
            i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let v = arrow::compute::cast(&a.slice(i, 1), &DataType::Float64).map_err(|e| QueryError::Invalid(e.to_string()))?;
            Value::Float(v.as_primitive::<arrow::datatypes::Float64Type>().value(0))
        }
        DataType::Utf8 => Value::Str(a.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::Str(a.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Value::Str(a.as_string_view().value(i).to_string()),
        DataType::Timestamp(unit, _) => {
            let v = arrow::compute::cast(&a.slice(i, 1), &DataType::Int64).map_err(|e| QueryError::Invalid(e.to_string()))?;
            let raw = v.as_primitive::<Int64Type>().value(0);
            Value::Time(match unit {
                TimeUnit::Second => raw.saturating_mul(1_000_000_000),
                TimeUnit::Millisecond => raw.saturating_mul(1_000_000),
                TimeUnit::Microsecond => raw.saturating_mul(1_000),
                TimeUnit::Nanosecond => raw,
            })
        }
        _ => {
            let formatter = arrow::util::display::ArrayFormatter::try_new(a.as_ref(), &Default::default())
                .map_err(|e| QueryError::Invalid(e.to_string()))?;
            Value::Str(formatter.value(i).to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use trawl_model::{AttrValue, Level, Record};
    use trawl_storage::{Store, StoreConfig};

    const T0: i64 = 1_795_255_200_000_000_000;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let make = |range: std::ops::Range<i64>| -> Vec<Record> {
            range
                .map(|i| {
                    let mut r = Record::new(T0 + i * 1_000_000_000);
                    r.service = ["checkout", "payment"][(i % 2) as usize].into();
                    r.level = if i % 5 == 0 { Level::Error } else { Level::Info };
                    r.body = format!("결제 {i}");
                    r.attributes = vec![("http.route".into(), AttrValue::Str(format!("/r{}", i % 3)))];
                    r
                })
                .collect()
        };
        store.write_blocking(make(0..100), Vec::new()).unwrap();
        assert!(store.flush(Duration::from_secs(10)));
        store.write_blocking(make(100..150), Vec::new()).unwrap();
        (dir, store)
    }

    fn run(store: &Store, sql: &str, start: i64, end: i64) -> Result<QueryResult, QueryError> {
        let request = SqlRequest { sql, start_ns: start, end_ns: end, limit: 100, limits: QueryLimits::default() };
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run_sql(&store.snapshot(), &request))
    }

    fn rows(r: QueryResult) -> Vec<Vec<Value>> {
        match r.output {
            QueryOutput::Table(t) => t.rows,
            QueryOutput::Records(_) => panic!("sql answers tables"),
        }
    }

    #[test]
    fn sql_reads_segments_and_buffer_within_the_range() {
        let (_d, s) = store();
        let r = run(&s, "SELECT service, count(*) AS n FROM logs GROUP BY service ORDER BY service", i64::MIN, i64::MAX).unwrap();
        assert_eq!(rows(r), vec![vec![Value::Str("checkout".into()), Value::Int(75)], vec![Value::Str("payment".into()), Value::Int(75)]]);
        let r = run(&s, "select count(*) from logs where level = 'ERROR'", T0 + 50_000_000_000, T0 + 119_000_000_000).unwrap();
        assert_eq!(rows(r), vec![vec![Value::Int(14)]]);
        let r = run(&s, "WITH e AS (SELECT attr(attributes, 'http.route') AS route FROM logs) SELECT route, count(*) FROM e GROUP BY route ORDER BY route", i64::MIN, i64::MAX).unwrap();
        assert_eq!(rows(r)[0], vec![Value::Str("/r0".into()), Value::Int(50)]);
        let r = run(&s, "SELECT max(time) FROM logs", i64::MIN, i64::MAX).unwrap();
        assert_eq!(rows(r), vec![vec![Value::Time(T0 + 149_000_000_000)]]);
        let r = run(&s, "SELECT count(*) FROM spans", i64::MIN, i64::MAX).unwrap();
        assert_eq!(rows(r), vec![vec![Value::Int(0)]]);
    }

    #[test]
    fn errors_map_to_whose_fault_they_are() {
        let io = DataFusionError::IoError(std::io::Error::other("disk gone"));
        assert!(matches!(df_error(io), QueryError::Storage(m) if m.contains("disk gone")));
        let internal = DataFusionError::Internal("invariant broken".into());
        assert!(matches!(df_error(internal), QueryError::Internal(m) if m.contains("invariant broken")));
        let cast = DataFusionError::ArrowError(Box::new(arrow::error::ArrowError::CastError("'abc' is not a number".into())), None);
        assert!(matches!(df_error(cast), QueryError::Invalid(_)));
        let plan = DataFusionError::Plan("table 'nope' not found".into());
        assert!(matches!(df_error(plan), QueryError::Invalid(m) if m.contains("nope")));
    }

    #[test]
    fn sql_is_read_only_and_errors_are_clear() {
        let (_d, s) = store();
        for bad in ["CREATE TABLE x AS SELECT 1", "INSERT INTO logs SELECT * FROM logs", "SET datafusion.execution.batch_size = 1", "DROP VIEW logs"] {
            let e = run(&s, bad, i64::MIN, i64::MAX).unwrap_err().to_string();
            assert!(e.starts_with("SQL: "), "{bad}: {e}");
        }
        let e = run(&s, "SELECT nope FROM logs", i64::MIN, i64::MAX).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let e = run(&s, "SELECT * FROM", i64::MIN, i64::MAX).unwrap_err().to_string();
        assert!(e.starts_with("SQL: "), "{e}");
        assert!(is_sql("  select 1") && is_sql("WITH a AS (select 1) select * from a") && is_sql("DROP VIEW logs"));
        assert!(!is_sql("selection:3") && !is_sql("select:3") && !is_sql("delete user") && !is_sql("with"));
        assert!(!is_sql("level:error | stats count()"));
    }

    #[test]
    fn sql_memory_cap_refuses() {
        let (_d, s) = store();
        let request = SqlRequest {
            sql: "SELECT a.body, b.body FROM logs a CROSS JOIN logs b ORDER BY a.body, b.body",
            start_ns: i64::MIN,
            end_ns: i64::MAX,
            limit: 10,
            limits: QueryLimits { timeout: Duration::from_secs(30), memory_bytes: 64 * 1024 },
        };
        let r = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run_sql(&s.snapshot(), &request));
        assert!(matches!(r, Err(QueryError::TooLarge(_))), "{:?}", r.map(|r| r.truncated));
    }
}
