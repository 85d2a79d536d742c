//! Reads segments back: row groups chosen by the caller, as Arrow batches, with typed column
//! accessors and conversion of one row back into a [`Record`] or [`Span`].

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array};
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowFilter, RowSelection, RowSelector};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;
use trawl_model::{AttrValue, Attributes, Level, Record, Span, SpanEvent, SpanKind, SpanLink, StatusCode};

use crate::attribute_columns::{parse_column_name, AttrSource, TypedArray, TypedView};
use crate::StoreError;

/// Parsed Parquet footers of segments, so that reading one row group does not parse the whole
/// footer again. Keyed by path, length and modification time: segment files are immutable once
/// registered, and a file rewritten at the same path (a retried flush) has another key.
type FooterKey = (std::path::PathBuf, u64, std::time::SystemTime);
static FOOTERS: std::sync::LazyLock<parking_lot::Mutex<std::collections::HashMap<FooterKey, ArrowReaderMetadata>>> =
    std::sync::LazyLock::new(Default::default);
const MAX_CACHED_FOOTERS: usize = 4096;

/// An exact pre-filter on cheap columns (time, service, level, trace id), applied while
/// decoding: the other columns (bodies, attributes) are decoded only for rows that pass, and
/// with the page index whole pages of them are skipped.
#[derive(Debug, Clone)]
pub(crate) struct RowPrefilter {
    /// `time` for records, `start` for spans.
    pub time_column: &'static str,
    pub start_ns: i64,
    pub end_ns: i64,
    /// Lowercased service names, one of which must match (None: any).
    pub services: Option<Vec<String>>,
    /// Level names as stored (`ERROR`), one of which must match (None: any). Records only.
    pub levels: Option<Vec<&'static str>>,
    /// Trace ids, one of which must match (None: any).
    pub trace_ids: Option<std::sync::Arc<crate::TraceIdSet>>,
    /// Spans only: Some(true) keeps only the error status, Some(false) only the others.
    pub error_status: Option<bool>,
}

impl RowPrefilter {
    /// A filter on the time range only, for records (`time`) or spans (`start`).
    pub fn time_range(time_column: &'static str, start_ns: i64, end_ns: i64) -> RowPrefilter {
        RowPrefilter { time_column, start_ns, end_ns, services: None, levels: None, trace_ids: None, error_status: None }
    }

    fn row_filter(&self, schema: &parquet::schema::types::SchemaDescriptor) -> Option<RowFilter> {
        let wanted: Vec<&str> = std::iter::once(self.time_column)
            .chain(self.services.as_ref().map(|_| "service"))
            .chain(self.levels.as_ref().map(|_| "level"))
            .chain(self.trace_ids.as_ref().map(|_| "trace_id"))
            .chain(self.error_status.map(|_| "status_code"))
            .collect();
        let leaves: Vec<usize> = (0..schema.num_columns()).filter(|&i| wanted.contains(&schema.column(i).name())).collect();
        if leaves.len() != wanted.len() {
            return None;
        }
        let filter = self.clone();
        let predicate = ArrowPredicateFn::new(ProjectionMask::leaves(schema, leaves), move |batch: RecordBatch| {
            let n = batch.num_rows();
            let strings = |name: &str| batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>());
            let time = batch.column_by_name(filter.time_column).and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>());
            let (service, level, trace_id, status) = (strings("service"), strings("level"), strings("trace_id"), strings("status_code"));
            let keep = (0..n).map(|i| {
                let in_time = time.is_none_or(|t| {
                    let t = t.value(i);
                    t >= filter.start_ns && t <= filter.end_ns
                });
                let service_ok = match (&filter.services, service) {
                    (Some(wanted), Some(col)) => wanted.iter().any(|w| crate::scan::service_matches(col.value(i), w)),
                    _ => true,
                };
                let level_ok = match (&filter.levels, level) {
                    (Some(wanted), Some(col)) => wanted.contains(&col.value(i)),
                    _ => true,
                };
                let trace_ok = match (&filter.trace_ids, trace_id) {
                    (Some(wanted), Some(col)) => wanted.may_contain(col.value(i)),
                    _ => true,
                };
                let status_ok = match (filter.error_status, status) {
                    (Some(errors), Some(col)) => (col.value(i) == trawl_model::StatusCode::Error.as_str()) == errors,
                    _ => true,
                };
                Some(in_time && service_ok && level_ok && trace_ok && status_ok)
            });
            Ok(BooleanArray::from_iter(keep))
        });
        Some(RowFilter::new(vec![Box::new(predicate)]))
    }
}

/// Reads the rows of the given row groups of a records segment that pass `prefilter`, decoding
/// only `columns` (None: all) and, with `rows`, only those rows (ascending, numbered from the
/// first row of the first row group given; pages holding none of them are not read). Batches
/// have the whole records schema: a column left out is null (empty text, time 0, no pattern), so
/// [`RecordColumns`] views them; the typed attribute columns read follow the fixed ones.
pub(crate) fn read_record_rows(
    path: &Path,
    row_groups: Vec<usize>,
    columns: Option<&[&str]>,
    prefilter: Option<&RowPrefilter>,
    rows: Option<&[u32]>,
) -> Result<Vec<RecordBatch>, StoreError> {
    let selection = rows.map(row_selection);
    let batches = read_batches_filtered(path, row_groups, columns, prefilter, selection)?;
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        let b = if columns.is_some() { with_all_record_columns(&b).map_err(|reason| StoreError::Corrupt { path: path.to_path_buf(), reason })? } else { b };
        RecordColumns::new(&b, path)?;
        out.push(b);
    }
    Ok(out)
}

/// The records schema with every field nullable: the shape of a batch read with a projection.
static NULLABLE_RECORD_SCHEMA: std::sync::LazyLock<arrow::datatypes::SchemaRef> = std::sync::LazyLock::new(|| {
    let fields: Vec<arrow::datatypes::Field> =
        crate::record_schema().fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    std::sync::Arc::new(arrow::datatypes::Schema::new(fields))
});

/// `batch` (some columns of the records schema) with the missing columns added as nulls, and
/// its typed attribute columns kept after them.
fn with_all_record_columns(batch: &RecordBatch) -> Result<RecordBatch, String> {
    let n = batch.num_rows();
    let mut columns: Vec<arrow::array::ArrayRef> = NULLABLE_RECORD_SCHEMA
        .fields()
        .iter()
        .map(|f| batch.column_by_name(f.name()).cloned().unwrap_or_else(|| arrow::array::new_null_array(f.data_type(), n)))
        .collect();
    let read = batch.schema_ref();
    let typed: Vec<usize> = (0..batch.num_columns()).filter(|&i| parse_column_name(read.field(i).name()).is_some()).collect();
    let schema = if typed.is_empty() {
        NULLABLE_RECORD_SCHEMA.clone()
    } else {
        let mut fields: Vec<arrow::datatypes::Field> = NULLABLE_RECORD_SCHEMA.fields().iter().map(|f| f.as_ref().clone()).collect();
        for &i in &typed {
            fields.push(read.field(i).clone());
            columns.push(batch.column(i).clone());
        }
        std::sync::Arc::new(arrow::datatypes::Schema::new(fields))
    };
    RecordBatch::try_new(schema, columns).map_err(|e| e.to_string())
}

/// Selects `rows` (ascending) and skips the rows between them.
fn row_selection(rows: &[u32]) -> RowSelection {
    let mut selectors = Vec::new();
    let mut next = 0u32;
    let mut i = 0;
    while i < rows.len() {
        let start = rows[i];
        let mut end = start + 1;
        i += 1;
        while i < rows.len() && rows[i] <= end {
            end = end.max(rows[i] + 1);
            i += 1;
        }
        if start > next {
            selectors.push(RowSelector::skip((start - next) as usize));
        }
        if end > next {
            selectors.push(RowSelector::select((end - start.max(next)) as usize));
            next = end;
        }
    }
    RowSelection::from(selectors)
}

fn read_batches_filtered(
    path: &Path,
    row_groups: Vec<usize>,
    columns: Option<&[&str]>,
    prefilter: Option<&RowPrefilter>,
    selection: Option<RowSelection>,
) -> Result<Vec<RecordBatch>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { path: path.to_path_buf(), reason };
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    let key = (path.to_path_buf(), meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
    let cached = FOOTERS.lock().get(&key).cloned();
    let metadata = match cached {
        Some(m) => m,
        None => {
            let m = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional)).map_err(|e| corrupt(e.to_string()))?;
            let mut footers = FOOTERS.lock();
            if footers.len() >= MAX_CACHED_FOOTERS {
                footers.clear();
            }
            footers.insert(key, m.clone());
            m
        }
    };
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata);
    let n_row_groups = builder.metadata().num_row_groups();
    if let Some(bad) = row_groups.iter().find(|&&rg| rg >= n_row_groups) {
        return Err(corrupt(format!("row group {bad} missing (file has {n_row_groups})")));
    }
    let row_groups_read = row_groups.clone();
    let mut builder = builder.with_row_groups(row_groups).with_batch_size(8192);
    if let Some(columns) = columns {
        let schema = builder.parquet_schema();
        let leaves: Vec<usize> = (0..schema.num_columns()).filter(|&i| columns.contains(&schema.column(i).name())).collect();
        // `pattern_id` is absent from segments older than format version 2.
        let missing: Vec<&&str> =
            columns.iter().filter(|c| **c != "pattern_id" && !(0..schema.num_columns()).any(|i| schema.column(i).name() == **c)).collect();
        if !missing.is_empty() {
            return Err(corrupt(format!("column {missing:?} is missing")));
        }
        let mask = ProjectionMask::leaves(schema, leaves);
        builder = builder.with_projection(mask);
    }
    if let Some(filter) = prefilter.and_then(|p| p.row_filter(builder.parquet_schema())) {
        builder = builder.with_row_filter(filter);
    }
    if let Some(selection) = selection {
        let total: usize = row_groups_read.iter().map(|&rg| builder.metadata().row_group(rg).num_rows() as usize).sum();
        if selection.row_count() + selection.skipped_row_count() > total {
            return Err(corrupt(format!("rows selected beyond the {total} rows read")));
        }
        builder = builder.with_row_selection(selection);
    }
    let reader = builder.build().map_err(|e| corrupt(e.to_string()))?;
    reader.map(|b| b.map_err(|e| corrupt(e.to_string()))).collect()
}

/// Reads the given row groups of a records segment.
#[cfg(test)]
pub(crate) fn read_record_batches(path: &Path, row_groups: Vec<usize>) -> Result<Vec<RecordBatch>, StoreError> {
    read_record_batches_filtered(path, row_groups, None)
}

/// Reads the rows of the given row groups of a records segment that pass `prefilter`.
#[cfg(test)]
fn read_record_batches_filtered(
    path: &Path,
    row_groups: Vec<usize>,
    prefilter: Option<&RowPrefilter>,
) -> Result<Vec<RecordBatch>, StoreError> {
    let batches = read_batches_filtered(path, row_groups, None, prefilter, None)?;
    for b in &batches {
        RecordColumns::new(b, path)?;
    }
    Ok(batches)
}

/// Reads the rows of the given row groups of a spans segment that pass `prefilter`, decoding
/// only `columns` (None: all, checked to be a spans batch).
pub(crate) fn read_span_rows(
    path: &Path,
    row_groups: Vec<usize>,
    columns: Option<&[&str]>,
    prefilter: Option<&RowPrefilter>,
) -> Result<Vec<RecordBatch>, StoreError> {
    let batches = read_batches_filtered(path, row_groups, columns, prefilter, None)?;
    if columns.is_none() {
        for b in &batches {
            SpanColumns::new(b, path)?;
        }
    }
    Ok(batches)
}

/// Reads the given row groups of a spans segment.
#[cfg(test)]
fn read_span_batches(path: &Path, row_groups: Vec<usize>) -> Result<Vec<RecordBatch>, StoreError> {
    read_span_rows(path, row_groups, None, None)
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a T, StoreError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| StoreError::Corrupt { path: path.to_path_buf(), reason: format!("column {name} missing or mistyped") })
}

/// Typed views of the columns of a records batch.
pub struct RecordColumns<'a> {
    pub time: &'a TimestampNanosecondArray,
    pub observed_time: &'a TimestampNanosecondArray,
    pub service: &'a StringArray,
    pub environment: &'a StringArray,
    pub host: &'a StringArray,
    pub level: &'a StringArray,
    pub severity_number: &'a Int32Array,
    pub trace_id: &'a StringArray,
    pub span_id: &'a StringArray,
    pub body: &'a StringArray,
    pub attributes: &'a StringArray,
    pub resource: &'a StringArray,
    /// Absent in segments written before format version 2 (read as 0, no pattern).
    pub pattern_id: Option<&'a UInt64Array>,
    /// Typed attribute columns read (format version 3): a key found here is not in the JSON.
    pub typed: Vec<TypedView<'a>>,
}

impl<'a> RecordColumns<'a> {
    pub fn new(batch: &'a RecordBatch, path: &Path) -> Result<RecordColumns<'a>, StoreError> {
        Ok(RecordColumns {
            time: column(batch, "time", path)?,
            observed_time: column(batch, "observed_time", path)?,
            service: column(batch, "service", path)?,
            environment: column(batch, "environment", path)?,
            host: column(batch, "host", path)?,
            level: column(batch, "level", path)?,
            severity_number: column(batch, "severity_number", path)?,
            trace_id: column(batch, "trace_id", path)?,
            span_id: column(batch, "span_id", path)?,
            body: column(batch, "body", path)?,
            attributes: column(batch, "attributes", path)?,
            resource: column(batch, "resource", path)?,
            pattern_id: match batch.column_by_name("pattern_id") {
                None => None,
                Some(_) => Some(column(batch, "pattern_id", path)?),
            },
            typed: {
                let schema = batch.schema_ref();
                let mut typed = Vec::new();
                for (field, array) in schema.fields().iter().zip(batch.columns()) {
                    if let Some((source, key)) = parse_column_name(field.name()) {
                        let array = TypedArray::new(array).ok_or_else(|| StoreError::Corrupt {
                            path: path.to_path_buf(),
                            reason: format!("column {} has type {}", field.name(), field.data_type()),
                        })?;
                        typed.push(TypedView { source, key, array });
                    }
                }
                typed
            },
        })
    }

    /// The typed column of `key` in `source`, when the batch has one.
    pub fn typed(&self, source: AttrSource, key: &str) -> Option<&TypedView<'a>> {
        self.typed.iter().find(|t| t.source == source && t.key == key)
    }

    /// Every attribute of row `i` in `source`: the JSON remainder and the typed columns read,
    /// sorted by key.
    pub fn attributes_of(&self, source: AttrSource, i: usize) -> Attributes {
        let json = match source {
            AttrSource::Attributes => self.attributes,
            AttrSource::Resource => self.resource,
        };
        let mut attrs = parse_attributes(json.value(i));
        let before = attrs.len();
        for t in self.typed.iter().filter(|t| t.source == source) {
            if let Some(v) = t.array.value(i) {
                attrs.push((t.key.to_string(), v));
            }
        }
        if attrs.len() != before {
            attrs.sort_by(|a, b| a.0.cmp(&b.0));
        }
        attrs
    }

    /// The pattern id of row `i`: 0 when none was stored.
    pub fn pattern_id(&self, i: usize) -> u64 {
        self.pattern_id.filter(|c| c.is_valid(i)).map_or(0, |c| c.value(i))
    }

    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

/// Parses a stored flat JSON object back into attributes (sorted by key); damage gives none.
pub fn parse_attributes(json: &str) -> Attributes {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(map) => map.into_iter().filter_map(|(k, v)| AttrValue::from_json(&v).map(|v| (k, v))).collect(),
        Err(_) => Vec::new(),
    }
}

/// Row `i` as a record.
pub fn record_from_batch(c: &RecordColumns<'_>, i: usize) -> Record {
    Record {
        time_ns: c.time.value(i),
        observed_time_ns: c.observed_time.value(i),
        service: c.service.value(i).to_string(),
        environment: c.environment.value(i).to_string(),
        host: c.host.value(i).to_string(),
        level: Level::parse(c.level.value(i)).unwrap_or(Level::Info),
        severity_number: c.severity_number.value(i),
        trace_id: c.trace_id.value(i).to_string(),
        span_id: c.span_id.value(i).to_string(),
        body: c.body.value(i).to_string(),
        attributes: c.attributes_of(AttrSource::Attributes, i),
        resource: c.attributes_of(AttrSource::Resource, i),
        pattern_id: c.pattern_id(i),
    }
}

/// Typed views of the columns of a spans batch.
pub struct SpanColumns<'a> {
    pub start: &'a TimestampNanosecondArray,
    pub duration_ns: &'a Int64Array,
    pub trace_id: &'a StringArray,
    pub span_id: &'a StringArray,
    pub parent_span_id: &'a StringArray,
    pub service: &'a StringArray,
    pub environment: &'a StringArray,
    pub host: &'a StringArray,
    pub name: &'a StringArray,
    pub kind: &'a StringArray,
    pub status_code: &'a StringArray,
    pub status_message: &'a StringArray,
    pub attributes: &'a StringArray,
    pub resource: &'a StringArray,
    pub events: &'a StringArray,
    pub links: &'a StringArray,
}

impl<'a> SpanColumns<'a> {
    pub fn new(batch: &'a RecordBatch, path: &Path) -> Result<SpanColumns<'a>, StoreError> {
        Ok(SpanColumns {
            start: column(batch, "start", path)?,
            duration_ns: column(batch, "duration_ns", path)?,
            trace_id: column(batch, "trace_id", path)?,
            span_id: column(batch, "span_id", path)?,
            parent_span_id: column(batch, "parent_span_id", path)?,
            service: column(batch, "service", path)?,
            environment: column(batch, "environment", path)?,
            host: column(batch, "host", path)?,
            name: column(batch, "name", path)?,
            kind: column(batch, "kind", path)?,
            status_code: column(batch, "status_code", path)?,
            status_message: column(batch, "status_message", path)?,
            attributes: column(batch, "attributes", path)?,
            resource: column(batch, "resource", path)?,
            events: column(batch, "events", path)?,
            links: column(batch, "links", path)?,
        })
    }

    pub fn len(&self) -> usize {
        self.start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }
}

/// Row `i` as a span.
pub fn span_from_batch(c: &SpanColumns<'_>, i: usize) -> Span {
    let json_array = |s: &str| match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let attrs_of = |v: &serde_json::Value| -> Attributes {
        match v.get("attributes") {
            Some(serde_json::Value::Object(map)) => {
                map.iter().filter_map(|(k, v)| AttrValue::from_json(v).map(|v| (k.clone(), v))).collect()
            }
            _ => Vec::new(),
        }
    };
    let str_of = |v: &serde_json::Value, key: &str| v.get(key).and_then(|x| x.as_str()).unwrap_or("").to_string();
    Span {
        trace_id: c.trace_id.value(i).to_string(),
        span_id: c.span_id.value(i).to_string(),
        parent_span_id: c.parent_span_id.value(i).to_string(),
        service: c.service.value(i).to_string(),
        environment: c.environment.value(i).to_string(),
        host: c.host.value(i).to_string(),
        name: c.name.value(i).to_string(),
        kind: SpanKind::parse(c.kind.value(i)),
        start_ns: c.start.value(i),
        duration_ns: c.duration_ns.value(i),
        status_code: StatusCode::parse(c.status_code.value(i)),
        status_message: c.status_message.value(i).to_string(),
        attributes: parse_attributes(c.attributes.value(i)),
        resource: parse_attributes(c.resource.value(i)),
        events: json_array(c.events.value(i))
            .iter()
            .map(|e| SpanEvent {
                time_ns: e.get("time_ns").and_then(|t| t.as_i64()).unwrap_or(0),
                name: str_of(e, "name"),
                attributes: attrs_of(e),
            })
            .collect(),
        links: json_array(c.links.value(i))
            .iter()
            .map(|l| SpanLink { trace_id: str_of(l, "trace_id"), span_id: str_of(l, "span_id"), attributes: attrs_of(l) })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment_writer::{write_records_segment, write_spans_segment};
    use crate::segment_index::SegmentIndex;
    use crate::filenames::index_path_for;
    use proptest::prelude::*;

    fn record(i: i64, body: &str) -> Record {
        let mut r = Record::new(1_700_000_000_000_000_000 + i);
        r.service = format!("svc-{}", i % 3);
        r.level = Level::ALL[(i % 6) as usize];
        r.severity_number = r.level.severity_number();
        r.trace_id = format!("{i:032x}");
        r.body = body.to_string();
        r.attributes = vec![("http.status_code".into(), AttrValue::Int(500 + i)), ("user.id".into(), AttrValue::Str(format!("u{i}")))];
        r.resource = vec![("service.version".into(), AttrValue::Str("1.2.3".into()))];
        r
    }

    fn read_all_records(path: &Path, n_row_groups: usize) -> Vec<Record> {
        let batches = read_record_batches(path, (0..n_row_groups).collect()).unwrap();
        let mut out = Vec::new();
        for b in &batches {
            let c = RecordColumns::new(b, path).unwrap();
            out.extend((0..c.len()).map(|i| record_from_batch(&c, i)));
        }
        out
    }

    #[test]
    fn segments_without_the_pattern_column_read_as_no_pattern() {
        // A records segment as format version 1 wrote it: no `pattern_id` column.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records-old.parquet");
        let schema = crate::record_schema();
        let old_fields: Vec<_> = schema.fields().iter().filter(|f| f.name() != "pattern_id").cloned().collect();
        let old_schema = std::sync::Arc::new(arrow::datatypes::Schema::new(old_fields));
        let mut r = record(1, "payment 1 failed");
        r.pattern_id = 7;
        let new_path = dir.path().join("records-new.parquet");
        write_records_segment(&new_path, "default", &mut [&r], 16).unwrap();
        let batch = &read_record_batches(&new_path, vec![0]).unwrap()[0];
        assert_eq!(RecordColumns::new(batch, &new_path).unwrap().pattern_id(0), 7);
        let old_batch = batch.project(&(0..old_schema.fields().len()).collect::<Vec<_>>()).unwrap();
        assert_eq!(old_batch.schema().fields().len(), old_schema.fields().len());
        let mut writer = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), old_batch.schema(), None).unwrap();
        writer.write(&old_batch).unwrap();
        writer.close().unwrap();
        let records = read_all_records(&path, 1);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].pattern_id, 0);
        assert_eq!(records[0].body, "payment 1 failed");
        let batch = &read_record_batches(&path, vec![0]).unwrap()[0];
        assert!(RecordColumns::new(batch, &path).unwrap().pattern_id.is_none());
    }

    #[test]
    fn records_segment_round_trips_clustered_by_service_level_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records-1.parquet");
        let records: Vec<Record> = (0..10).rev().map(|i| record(i, "결제가 실패했습니다")).collect();
        let index = write_records_segment(&path, "default", &mut records.iter().collect::<Vec<_>>(), 4).unwrap();
        assert_eq!(index.row_groups.len(), 3);
        assert_eq!(SegmentIndex::read(&index_path_for(&path)).unwrap(), index);
        let back = read_all_records(&path, 3);
        let mut expected: Vec<Record> = (0..10).map(|i| record(i, "결제가 실패했습니다")).collect();
        for r in &mut expected {
            r.attributes.sort_by(|a, b| a.0.cmp(&b.0));
        }
        expected.sort_by(|a, b| (&a.service, a.level as u8, a.time_ns).cmp(&(&b.service, b.level as u8, b.time_ns)));
        assert_eq!(back, expected);
        // Each row group's time range covers its own rows only.
        for (rg, rows) in index.row_groups.iter().zip(expected.chunks(4)) {
            assert_eq!(rg.min_time_ns, rows.iter().map(|r| r.time_ns).min().unwrap());
            assert_eq!(rg.max_time_ns, rows.iter().map(|r| r.time_ns).max().unwrap());
        }
        // Only the chosen row group is read.
        assert_eq!(read_record_batches(&path, vec![2]).unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    }

    #[test]
    fn typed_attribute_columns_round_trip_with_rare_and_mixed_keys_in_the_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records-typed.parquet");
        let mut records: Vec<Record> = (0..200).map(|i| record(i, "GET /cart")).collect();
        for (i, r) in records.iter_mut().enumerate() {
            r.attributes.push(("http.duration_ms".into(), AttrValue::Float(i as f64 * 1.5)));
            // Mixed types: stays in the JSON.
            r.attributes.push(("code".into(), if i % 7 == 0 { AttrValue::Str("E1".into()) } else { AttrValue::Int(i as i64) }));
            if i == 42 {
                r.attributes.push(("rare".into(), AttrValue::Bool(true)));
            }
        }
        let index = write_records_segment(&path, "default", &mut records.iter().collect::<Vec<_>>(), 64).unwrap();
        let names: Vec<String> = index.columns.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["attributes.http.duration_ms", "attributes.http.status_code", "attributes.user.id", "resource.service.version"]);
        assert_eq!(SegmentIndex::read(&index_path_for(&path)).unwrap().columns, index.columns);

        let mut back = read_all_records(&path, index.row_groups.len());
        back.sort_by_key(|r| r.time_ns);
        for r in &mut records {
            r.attributes.sort_by(|a, b| a.0.cmp(&b.0));
        }
        assert_eq!(back, records);

        // A projection of one typed column reads it without the JSON.
        let batches = read_record_rows(&path, vec![0], Some(&["time", "attributes.http.duration_ms"]), None, None).unwrap();
        let c = RecordColumns::new(&batches[0], &path).unwrap();
        let typed = c.typed(AttrSource::Attributes, "http.duration_ms").unwrap();
        assert!(typed.array.f64_value(0).is_some());
        assert!(c.typed(AttrSource::Attributes, "code").is_none());
        assert_eq!(c.attributes.null_count(), c.len());
    }

    #[test]
    fn a_big_json_remainder_keeps_zstd_and_small_columns_take_lz4() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = tempfile::tempdir().unwrap();
        let compression_of = |path: &Path| -> std::collections::HashMap<String, String> {
            let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
            let rg = reader.metadata().row_group(0).clone();
            rg.columns().iter().map(|c| (c.column_path().string(), format!("{:?}", c.compression()))).collect()
        };
        // Every record has its own keys: none gets a column, the JSON stays big.
        let path = dir.path().join("records-wide.parquet");
        let mut records: Vec<Record> = (0..100).map(|i| record(i, "x")).collect();
        for (i, r) in records.iter_mut().enumerate() {
            r.attributes = vec![(format!("k{i}"), AttrValue::Str("a fairly long value that is not repeated ".repeat(2) + &i.to_string()))];
        }
        write_records_segment(&path, "default", &mut records.iter().collect::<Vec<_>>(), 1000).unwrap();
        let wide = compression_of(&path);
        assert!(wide["attributes"].starts_with("ZSTD"), "{wide:?}");
        assert_eq!(wide["service"], "LZ4_RAW");
        assert!(wide["body"].starts_with("ZSTD"));
        // Keys in typed columns leave an empty JSON remainder: LZ4.
        let path = dir.path().join("records-narrow.parquet");
        let records: Vec<Record> = (0..100).map(|i| record(i, "x")).collect();
        write_records_segment(&path, "default", &mut records.iter().collect::<Vec<_>>(), 1000).unwrap();
        let narrow = compression_of(&path);
        assert_eq!(narrow["attributes"], "LZ4_RAW");
        assert_eq!(narrow["attributes.http.status_code"], "LZ4_RAW");
        // 100 distinct user ids are under the dictionary limit: a small column.
        assert_eq!(narrow["attributes.user.id"], "LZ4_RAW");
    }

    #[test]
    fn prefilter_keeps_exactly_the_matching_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records-1.parquet");
        let records: Vec<Record> = (0..60).map(|i| record(i, "x")).collect();
        write_records_segment(&path, "default", &mut records.iter().collect::<Vec<_>>(), 16).unwrap();
        let base = 1_700_000_000_000_000_000;
        let filter = RowPrefilter {
            services: Some(vec!["SVC-1".to_lowercase()]),
            levels: Some(vec!["ERROR", "WARN"]),
            ..RowPrefilter::time_range("time", base + 10, base + 49)
        };
        let batches = read_record_batches_filtered(&path, (0..4).collect(), Some(&filter)).unwrap();
        let mut got = Vec::new();
        for b in &batches {
            let c = RecordColumns::new(b, &path).unwrap();
            got.extend((0..c.len()).map(|i| c.time.value(i) - base));
        }
        let expected: Vec<i64> = (10..50).filter(|i| i % 3 == 1 && matches!(i % 6, 3 | 4)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn spans_segment_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans-1.parquet");
        let span = Span {
            trace_id: "ab".repeat(16),
            span_id: "cd".repeat(8),
            parent_span_id: String::new(),
            service: "payment".into(),
            environment: "prod".into(),
            host: "h1".into(),
            name: "POST /pay".into(),
            kind: SpanKind::Server,
            start_ns: 5,
            duration_ns: 7,
            status_code: StatusCode::Error,
            status_message: "timeout".into(),
            attributes: vec![("a".into(), AttrValue::Bool(true))],
            resource: vec![],
            events: vec![SpanEvent { time_ns: 6, name: "exception".into(), attributes: vec![("exception.type".into(), AttrValue::Str("Timeout".into()))] }],
            links: vec![SpanLink { trace_id: "ef".repeat(16), span_id: "01".repeat(8), attributes: vec![] }],
        };
        write_spans_segment(&path, "default", &mut [&span], 100).unwrap();
        let batches = read_span_batches(&path, vec![0]).unwrap();
        let c = SpanColumns::new(&batches[0], &path).unwrap();
        assert_eq!(span_from_batch(&c, 0), span);
    }

    #[test]
    fn corrupt_segment_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records-1.parquet");
        let records = [record(1, "hello")];
        write_records_segment(&path, "default", &mut records.iter().collect::<Vec<_>>(), 10).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        for b in &mut bytes[n / 3..n / 2] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, &bytes).unwrap();
        let _ = read_record_batches(&path, vec![0]);
        std::fs::write(&path, b"not parquet").unwrap();
        assert!(matches!(read_record_batches(&path, vec![0]), Err(StoreError::Corrupt { .. })));
        assert!(read_record_batches(&path, vec![5]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn any_text_round_trips(bodies in proptest::collection::vec(any::<String>(), 1..20)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("records-1.parquet");
            let records: Vec<Record> = bodies.iter().enumerate().map(|(i, b)| record(i as i64, b)).collect();
            write_records_segment(&path, "default", &mut records.iter().collect::<Vec<_>>(), 7).unwrap();
            let n_rg = bodies.len().div_ceil(7);
            let mut back = read_all_records(&path, n_rg);
            back.sort_by_key(|r| r.time_ns);
            let got: Vec<&str> = back.iter().map(|r| r.body.as_str()).collect();
            let want: Vec<&str> = bodies.iter().map(|s| s.as_str()).collect();
            prop_assert_eq!(got, want);
        }
    }
}
