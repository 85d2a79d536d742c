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
//! - all of them gzip-compressed ([`decompress`]).

mod batch;
mod decompress;
mod error;
mod ndjson;
mod normalize;
mod otlp_json;
mod otlp_proto;

pub use batch::{Batch, Rejection};
pub use decompress::decompress;
pub use error::IngestError;
pub use ndjson::decode_ndjson;
pub use normalize::{finish_record, finish_span, TIME_ADJUSTED_ATTR};
pub use otlp_json::{decode_otlp_logs_json, decode_otlp_traces_json};
pub use otlp_proto::{
    decode_otlp_logs_protobuf, decode_otlp_traces_protobuf, logs_from_request, traces_from_request,
};
