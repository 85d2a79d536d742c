//! Writes records or spans into one immutable Parquet segment (zstd) and its sidecar index.
//!
//! Records segments (format version 3) also have a typed column per frequent attribute key (see
//! [`crate::attribute_columns`]): `attributes` and `resource` hold the other keys as JSON.
//!
//! Records are sorted by service, level and time (spans by start time), then cut into row groups
//! of `row_group_rows`; every row group gets one entry in the sidecar index. Clustering records
//! by service and level puts the rows a per-service query wants into a few row groups and
//! contiguous runs of pages, which the sidecar and the page index skip to, and makes similar
//! messages neighbours, which compress better. Both files are fsynced before the function returns; the
//! caller registers them in the metastore afterwards.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::schema::types::ColumnPath;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use trawl_model::{attributes_to_json, attributes_to_json_string, Record, Span};

use crate::attribute_columns::{self, AttrSource, ColumnType, TypedColumn};
use crate::filenames::{index_path_for, postings_path_for, FORMAT_VERSION, META_FORMAT_VERSION, META_KIND, META_TENANT};
use crate::segment_index::{index_records, index_spans, RowGroupIndex, SegmentIndex, SegmentKind};
use crate::row_index::RowIndexBuilder;
use crate::StoreError;

fn ts_field(name: &str) -> Field {
    Field::new(name, DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false)
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

/// Arrow schema of records with every attribute in the JSON columns (the buffer's form, and the
/// fixed part of every records segment). Attributes are one flat JSON object per record.
pub fn record_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts_field("time"),
        ts_field("observed_time"),
        utf8("service"),
        utf8("environment"),
        utf8("host"),
        utf8("level"),
        Field::new("severity_number", DataType::Int32, false),
        utf8("trace_id"),
        utf8("span_id"),
        utf8("body"),
        utf8("attributes"),
        utf8("resource"),
        // Since format version 2; older segments lack it (no pattern).
        Field::new("pattern_id", DataType::UInt64, false),
    ]))
}

/// Arrow schema of a spans segment. Events and links are JSON arrays.
pub fn span_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts_field("start"),
        Field::new("duration_ns", DataType::Int64, false),
        utf8("trace_id"),
        utf8("span_id"),
        utf8("parent_span_id"),
        utf8("service"),
        utf8("environment"),
        utf8("host"),
        utf8("name"),
        utf8("kind"),
        utf8("status_code"),
        utf8("status_message"),
        utf8("attributes"),
        utf8("resource"),
        utf8("events"),
        utf8("links"),
    ]))
}

fn strings<'a>(it: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(it))
}

fn json_strings(it: impl Iterator<Item = serde_json::Value>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(it.map(|v| v.to_string())))
}

fn timestamps(it: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from_iter_values(it).with_timezone("UTC"))
}

/// Records as one Arrow batch in the [`record_schema`], every attribute in the JSON columns.
pub fn record_batch(records: &[&Record]) -> Result<RecordBatch, StoreError> {
    let json = |of: fn(&Record) -> &trawl_model::Attributes| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(records.iter().map(|r| attributes_to_json_string(of(r)))))
    };
    records_with(records, json(|r| &r.attributes), json(|r| &r.resource), Vec::new(), record_schema())
}

/// The schema of a records segment with the typed attribute columns `typed` after the fixed ones.
fn typed_record_schema(typed: &[TypedColumn]) -> SchemaRef {
    let mut fields: Vec<Field> = record_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(typed.iter().map(TypedColumn::field));
    Arc::new(Schema::new(fields))
}

/// The fixed columns of `records` with the given attribute columns: the JSON of `attributes` and
/// `resource`, then the typed columns of `schema`.
fn records_with(
    records: &[&Record],
    attributes: ArrayRef,
    resource: ArrayRef,
    typed: Vec<ArrayRef>,
    schema: SchemaRef,
) -> Result<RecordBatch, StoreError> {
    let mut columns: Vec<ArrayRef> = vec![
        timestamps(records.iter().map(|r| r.time_ns)),
        timestamps(records.iter().map(|r| r.observed_time_ns)),
        strings(records.iter().map(|r| r.service.as_str())),
        strings(records.iter().map(|r| r.environment.as_str())),
        strings(records.iter().map(|r| r.host.as_str())),
        strings(records.iter().map(|r| r.level.as_str())),
        Arc::new(Int32Array::from_iter_values(records.iter().map(|r| r.severity_number))),
        strings(records.iter().map(|r| r.trace_id.as_str())),
        strings(records.iter().map(|r| r.span_id.as_str())),
        strings(records.iter().map(|r| r.body.as_str())),
        attributes,
        resource,
        Arc::new(UInt64Array::from_iter_values(records.iter().map(|r| r.pattern_id))),
    ];
    columns.extend(typed);
    RecordBatch::try_new(schema, columns).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Spans as one Arrow batch in the segment schema ([`span_schema`]).
pub fn span_batch(spans: &[&Span]) -> Result<RecordBatch, StoreError> {
    let events = |s: &&Span| {
        serde_json::Value::Array(
            s.events
                .iter()
                .map(|e| serde_json::json!({"time_ns": e.time_ns, "name": e.name, "attributes": attributes_to_json(&e.attributes)}))
                .collect(),
        )
    };
    let links = |s: &&Span| {
        serde_json::Value::Array(
            s.links
                .iter()
                .map(|l| serde_json::json!({"trace_id": l.trace_id, "span_id": l.span_id, "attributes": attributes_to_json(&l.attributes)}))
                .collect(),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        timestamps(spans.iter().map(|s| s.start_ns)),
        Arc::new(Int64Array::from_iter_values(spans.iter().map(|s| s.duration_ns))),
        strings(spans.iter().map(|s| s.trace_id.as_str())),
        strings(spans.iter().map(|s| s.span_id.as_str())),
        strings(spans.iter().map(|s| s.parent_span_id.as_str())),
        strings(spans.iter().map(|s| s.service.as_str())),
        strings(spans.iter().map(|s| s.environment.as_str())),
        strings(spans.iter().map(|s| s.host.as_str())),
        strings(spans.iter().map(|s| s.name.as_str())),
        strings(spans.iter().map(|s| s.kind.as_str())),
        strings(spans.iter().map(|s| s.status_code.as_str())),
        strings(spans.iter().map(|s| s.status_message.as_str())),
        Arc::new(StringArray::from_iter_values(spans.iter().map(|s| attributes_to_json_string(&s.attributes)))),
        Arc::new(StringArray::from_iter_values(spans.iter().map(|s| attributes_to_json_string(&s.resource)))),
        json_strings(spans.iter().map(events)),
        json_strings(spans.iter().map(links)),
    ];
    RecordBatch::try_new(span_schema(), columns).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Per-column choices of one segment beyond the defaults of [`writer_properties`].
#[derive(Default)]
struct ColumnChoices {
    /// Compressed with LZ4 rather than zstd: reading a column chunk makes a new codec, and a
    /// zstd codec (a compression and a decompression context) costs more to make than a small
    /// column costs to decompress.
    lz4: Vec<String>,
    /// Without a dictionary: its page would be decompressed for every row group read, even to
    /// fetch one row, and many distinct values gain little from it.
    no_dictionary: Vec<String>,
    /// Integers of many distinct values (ids, durations): bit-packed deltas.
    delta: Vec<String>,
}

/// Columns of records segments that are a few KiB per row group whatever the data.
const SMALL_RECORD_COLUMNS: [&str; 5] = ["observed_time", "service", "environment", "level", "severity_number"];
/// A JSON remainder averaging at most this many bytes per record is small enough for LZ4.
const SMALL_JSON_BYTES: usize = 16;

fn writer_properties(kind: SegmentKind, tenant: &str, row_group_rows: usize, choices: &ColumnChoices) -> WriterProperties {
    let path = |name: &String| ColumnPath::new(vec![name.clone()]);
    let mut builder = WriterProperties::builder();
    for column in &choices.lz4 {
        builder = builder.set_column_compression(path(column), Compression::LZ4_RAW);
    }
    for column in &choices.no_dictionary {
        builder = builder.set_column_dictionary_enabled(path(column), false);
    }
    for column in &choices.delta {
        builder = builder.set_column_encoding(path(column), Encoding::DELTA_BINARY_PACKED);
    }
    builder
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid zstd level")))
        .set_max_row_group_row_count(Some(row_group_rows))
        // Small pages plus the page index let a filtered read skip whole pages of bodies and
        // attributes instead of decompressing them.
        .set_data_page_size_limit(16 * 1024)
        // Times are increasing runs (per service): deltas pack into fewer bits than zstd finds.
        .set_column_dictionary_enabled(ColumnPath::from(kind.time_column()), false)
        .set_column_encoding(ColumnPath::from(kind.time_column()), Encoding::DELTA_BINARY_PACKED)
        // The records and spans of one trace share its id, and arrive together: a dictionary
        // stores each id once per row group. Span ids rarely repeat: a dictionary would only cost.
        .set_column_dictionary_enabled("span_id".into(), false)
        // Bodies and attributes are mostly distinct: their dictionary page (up to 1 MiB) had to
        // be decompressed for every row group read, even to fetch one row.
        .set_column_dictionary_enabled("body".into(), false)
        .set_column_dictionary_enabled("attributes".into(), false)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_FORMAT_VERSION.to_string(), FORMAT_VERSION.to_string()),
            KeyValue::new(META_TENANT.to_string(), tenant.to_string()),
            KeyValue::new(META_KIND.to_string(), kind.as_str().to_string()),
        ]))
        .build()
}

/// Writes one Parquet file of `items` (already sorted) in row groups of
/// `row_group_rows`, fsyncs it, then writes and fsyncs its sidecar index.
#[allow(clippy::too_many_arguments)] // one call per kind, each a different set of accessors
fn write_segment<T>(
    path: &Path,
    tenant: &str,
    kind: SegmentKind,
    items: &[&T],
    row_group_rows: usize,
    to_batch: impl Fn(std::ops::Range<usize>) -> Result<RecordBatch, StoreError>,
    to_index: impl Fn(&[&T], &[String]) -> RowGroupIndex,
    service_of: impl Fn(&T) -> &str,
    time_of: impl Fn(&T) -> i64,
    columns: Vec<TypedColumn>,
    choices: &ColumnChoices,
) -> Result<SegmentIndex, StoreError> {
    let io = |e: std::io::Error| StoreError::io(path, e);
    let pq = |e: parquet::errors::ParquetError| StoreError::io(path, std::io::Error::other(e.to_string()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut services: Vec<String> = items.iter().map(|i| service_of(i).to_string()).collect();
    services.sort();
    services.dedup();
    let row_group_rows = row_group_rows.max(1);
    let file = File::create(path).map_err(io)?;
    let schema = to_batch(0..0)?.schema();
    let mut writer = ArrowWriter::try_new(file, schema, Some(writer_properties(kind, tenant, row_group_rows, choices))).map_err(pq)?;
    let mut row_groups = Vec::new();
    for start in (0..items.len()).step_by(row_group_rows) {
        let rows = start..(start + row_group_rows).min(items.len());
        writer.write(&to_batch(rows.clone())?).map_err(pq)?;
        writer.flush().map_err(pq)?;
        row_groups.push(to_index(&items[rows], &services));
    }
    let file = writer.into_inner().map_err(pq)?;
    file.sync_all().map_err(io)?;
    let index = SegmentIndex {
        format_version: FORMAT_VERSION,
        kind,
        tenant: tenant.to_string(),
        n_rows: items.len() as u64,
        min_time_ns: items.iter().map(|i| time_of(i)).min().unwrap_or(0),
        max_time_ns: items.iter().map(|i| time_of(i)).max().unwrap_or(0),
        services,
        levels_mask: row_groups.iter().fold(0, |m, rg| m | rg.levels_mask),
        row_groups,
        columns,
    };
    let index_path = index_path_for(path);
    let mut f = File::create(&index_path).map_err(|e| StoreError::io(&index_path, e))?;
    f.write_all(&index.encode()).map_err(|e| StoreError::io(&index_path, e))?;
    f.sync_all().map_err(|e| StoreError::io(&index_path, e))?;
    Ok(index)
}

/// Writes a records segment and its row index; `records` are sorted by service, level and time
/// here.
pub fn write_records_segment(
    path: &Path,
    tenant: &str,
    records: &mut [&Record],
    row_group_rows: usize,
) -> Result<SegmentIndex, StoreError> {
    sort_records(records);
    let records: &[&Record] = records;
    let typed = attribute_columns::choose(records);
    let attributes = attribute_columns::split(records, AttrSource::Attributes, &typed);
    let resource = attribute_columns::split(records, AttrSource::Resource, &typed);
    let mut choices = ColumnChoices { lz4: SMALL_RECORD_COLUMNS.map(String::from).to_vec(), ..ColumnChoices::default() };
    for (json, split) in [("attributes", &attributes), ("resource", &resource)] {
        if split.remainder_bytes_per_record() <= SMALL_JSON_BYTES {
            choices.lz4.push(json.to_string());
        }
        for (c, column) in split.columns.iter().enumerate() {
            let many_distinct = split.many_distinct(c);
            // Text of many distinct values (paths, user ids) is big: zstd's ratio pays there.
            if !(many_distinct && column.ty == ColumnType::Str) {
                choices.lz4.push(column.name());
            }
            if many_distinct {
                choices.no_dictionary.push(column.name());
                if column.ty == ColumnType::Int {
                    choices.delta.push(column.name());
                }
            }
        }
    }
    let (attributes_json, resource_json) = (attributes.remainder_array(), resource.remainder_array());
    let mut typed_arrays = attributes.typed_arrays();
    typed_arrays.extend(resource.typed_arrays());
    let schema = typed_record_schema(&typed);
    let to_batch = |rows: std::ops::Range<usize>| {
        let slice = |a: &ArrayRef| a.slice(rows.start, rows.len());
        records_with(&records[rows.clone()], slice(&attributes_json), slice(&resource_json), typed_arrays.iter().map(slice).collect(), schema.clone())
    };
    let index_rows = |rs: &[&Record], services: &[String]| index_records(rs, services, false);
    let index = write_segment(path, tenant, SegmentKind::Records, records, row_group_rows, to_batch, index_rows, |r| &r.service, |r| r.time_ns, typed.clone(), &choices)?;
    let mut row_index = RowIndexBuilder::default();
    records.iter().for_each(|r| row_index.add_record(r));
    row_index.write(&postings_path_for(path))?;
    Ok(index)
}

/// Sorts records by service, level and time, equal ones kept in arrival order. The keys are
/// made once, a service being its rank among the buffer's names, so the sort compares
/// integers rather than following two records to compare their names (that comparison was 15 %
/// of the server's ingest profile).
fn sort_records(records: &mut [&Record]) {
    let mut rank: std::collections::HashMap<&str, u32, ahash::RandomState> = std::collections::HashMap::default();
    for &r in records.iter() {
        let next = rank.len() as u32;
        rank.entry(r.service.as_str()).or_insert(next);
    }
    let mut names: Vec<&str> = rank.keys().copied().collect();
    names.sort_unstable();
    for (i, name) in names.into_iter().enumerate() {
        rank.insert(name, i as u32);
    }
    let mut keys: Vec<(u32, u8, i64, u32)> =
        records.iter().enumerate().map(|(i, r)| (rank[r.service.as_str()], r.level as u8, r.time_ns, i as u32)).collect();
    keys.sort_unstable();
    let sorted: Vec<&Record> = keys.iter().map(|k| records[k.3 as usize]).collect();
    records.copy_from_slice(&sorted);
}

/// Writes a spans segment; `spans` are sorted by start time here.
pub fn write_spans_segment(
    path: &Path,
    tenant: &str,
    spans: &mut [&Span],
    row_group_rows: usize,
) -> Result<SegmentIndex, StoreError> {
    spans.sort_by_key(|s| s.start_ns);
    let spans: &[&Span] = spans;
    let to_batch = |rows: std::ops::Range<usize>| span_batch(&spans[rows]);
    write_segment(path, tenant, SegmentKind::Spans, spans, row_group_rows, to_batch, index_spans, |s| &s.service, |s| s.start_ns, Vec::new(), &ColumnChoices::default())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use trawl_model::{Level, Record};

    proptest! {
        /// The keyed sort gives the order of a stable sort by (service, level, time).
        #[test]
        fn sort_records_is_the_stable_sort_by_service_level_time(items in proptest::collection::vec((0usize..5, 0usize..6, 0i64..20), 0..300)) {
            let records: Vec<Record> = items
                .iter()
                .enumerate()
                .map(|(i, &(service, level, time))| {
                    let mut r = Record::new(time);
                    r.service = ["web", "Web", "결제", "", "api"][service].to_string();
                    r.level = Level::ALL[level % Level::ALL.len()];
                    r.body = i.to_string();
                    r
                })
                .collect();
            let mut expected: Vec<&Record> = records.iter().collect();
            expected.sort_by(|a, b| (a.service.as_str(), a.level as u8, a.time_ns).cmp(&(b.service.as_str(), b.level as u8, b.time_ns)));
            let mut sorted: Vec<&Record> = records.iter().collect();
            super::sort_records(&mut sorted);
            let bodies = |rs: &[&Record]| rs.iter().map(|r| r.body.clone()).collect::<Vec<_>>();
            prop_assert_eq!(bodies(&sorted), bodies(&expected));
        }
    }
}
