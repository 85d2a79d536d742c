//! Storage: the WAL-backed in-memory buffer, immutable Parquet segments with sidecar indexes,
//! and the metastore that registers them.
//!
//! Writes go through [`Store::write`]: the writer thread appends them to the WAL (group commit:
//! one fsync for every request waiting), adds them to the in-memory buffer, then acknowledges.
//! The flusher thread turns frozen buffers into segments, registers them in the metastore, and
//! only then deletes the WAL files they came from. Queries read a [`Snapshot`]: buffer chunks
//! and registered segments, both immutable, through its one read path, [`Snapshot::scan`].

mod alert_tables;
mod attribute_columns;
mod bloom;
mod buffer;
mod config;
pub mod disk;
mod error;
pub mod filenames;
mod metastore;
mod metrics;
mod pattern_registry;
mod pattern_tables;
mod postings;
mod rollup_tables;
mod row_index;
mod scan;
mod segment_index;
mod segment_reader;
mod segment_writer;
mod snapshot;
mod store;
mod recovery;
mod writer;
mod flusher;

pub use alert_tables::{AlertTables, AlertWrite, EventRow, InstanceRow, ObjectRow, ObjectVersionRow, OutboxRow};
pub use attribute_columns::{column_name, parse_column_name, AttrSource, ColumnType, TypedArray, TypedColumn, TypedView};
pub use bloom::Bloom;
pub use buffer::Chunk;
pub use config::{Durability, StoreConfig};
pub use error::StoreError;
pub use metastore::{Metastore, SavedQuery};
pub use metrics::{Histogram, StoreMetrics};
pub use pattern_registry::{TemplateRow, NO_PATTERN};
pub use rollup_tables::RollupCompaction;
pub use row_index::{IndexKey, RowIndex};
pub use segment_index::{RowGroupIndex, SegmentIndex, SegmentKind, TraceIdSet};
pub use scan::{ScanFilter, ScanRows, ScanStats, ScanVisitor, ScanWarning};
pub use segment_reader::{parse_attributes, record_from_batch, span_from_batch, RecordColumns, SpanColumns};
pub use segment_writer::{record_batch, record_schema, span_batch, span_schema, write_records_segment, write_spans_segment};
pub use snapshot::{PatternLookup, PatternTemplates, SegmentHandle, Snapshot};
pub use store::{RollupView, Store, StoreStats, Subscriber};
