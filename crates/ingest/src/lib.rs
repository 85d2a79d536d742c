//! Protocol decoders: client bytes in, records and spans out.
//!
//! Every decoder is a plain function over bytes. Malformed envelopes (bad gzip, JSON or
//! protobuf) fail the whole request with an [`IngestError`]; a single bad record or NDJSON line
//! is only rejected, with a reason, in [`Batch::rejected`]. Every accepted record and span has
//! gone through [`finish_record`] or [`finish_span`] (size and field limits, time sanity, ids).
//!
//! Supported inputs:
//! - OTLP/HTTP protobuf and OTLP/JSON for logs and traces,
//! - OTLP/gRPC requests already decoded by tonic ([`logs_from_request`], [`traces_from_request`]),
//! - newline-delimited JSON logs ([`decode_ndjson`]),
//! - Grafana Loki pushes, JSON and snappy-compressed protobuf ([`decode_loki_json`],
//!   [`decode_loki_protobuf`]),
//! - syslog, RFC 5424 and RFC 3164, one message per UDP datagram or cut from a TCP stream by
//!   [`SyslogFramer`] ([`parse_syslog`], which never fails: bad messages are kept as raw text),
//! - Elasticsearch `_bulk` requests ([`decode_es_bulk`], answered by [`bulk_response`]),
//! - Sentry envelopes and store requests ([`decode_sentry_envelope`], [`decode_sentry_store`]),
//! - all of them gzip-, brotli- or deflate-compressed ([`decompress`]).

mod batch;
mod decompress;
mod error;
mod es_bulk;
mod loki;
mod ndjson;
mod normalize;
mod otlp_json;
mod otlp_proto;
mod sentry;
mod syslog;

pub use batch::{Batch, Rejection};
pub use decompress::decompress;
pub use error::IngestError;
pub use es_bulk::{
    bulk_response, decode_es_bulk, es_root_info, BulkAction, BulkItem, BulkItemError, BulkOutcome,
    BulkRequest, ES_ID_ATTR, ES_INDEX_ATTR, ES_VERSION,
};
pub use loki::{decode_loki_json, decode_loki_protobuf, parse_loki_labels, LOKI_TENANT_ATTR};
pub use ndjson::decode_ndjson;
pub use normalize::{finish_record, finish_span, TIME_ADJUSTED_ATTR};
pub use otlp_json::{decode_otlp_logs_json, decode_otlp_traces_json};
pub use otlp_proto::{
    decode_otlp_logs_protobuf, decode_otlp_traces_protobuf, logs_from_request, traces_from_request,
};
pub use sentry::{
    decode_sentry_envelope, decode_sentry_store, parse_sentry_auth, sentry_key_from_dsn,
    SentryAuth, SentryBatch,
};
pub use syslog::{
    parse_syslog, parse_syslog_frame, SyslogFrame, SyslogFramer, DEFAULT_MAX_SYSLOG_MESSAGE_BYTES,
    SYSLOG_PARSE_ERROR_ATTR, SYSLOG_TRUNCATED_ATTR,
};
