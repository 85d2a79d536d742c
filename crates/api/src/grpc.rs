//! OTLP/gRPC logs and traces services, sharing the decode and write path with OTLP/HTTP.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};
use trawl_ingest::Batch;
use trawl_model::now_ns;

use crate::ingest::write_batch;
use crate::{ApiError, AppState};

struct Otlp(AppState);

fn status_of(e: ApiError) -> Status {
    match e {
        ApiError::Overloaded(r) => Status::resource_exhausted(r),
        ApiError::Unavailable(r) => Status::unavailable(r),
        ApiError::BadRequest { reason, .. } => Status::invalid_argument(reason),
        ApiError::PayloadTooLarge(r) => Status::resource_exhausted(r),
        other => Status::internal(other.reason().to_string()),
    }
}

impl Otlp {
    async fn write(&self, batch: Batch) -> Result<(usize, Vec<trawl_ingest::Rejection>), Status> {
        let state = &self.0;
        if !state.store.is_ready() {
            return Err(Status::unavailable("replaying the write-ahead log"));
        }
        let mut batch = batch;
        let rejected = std::mem::take(&mut batch.rejected);
        let accepted = batch.records.len() + batch.spans.len();
        match write_batch(state, batch).await {
            Ok(()) => {
                state.metrics.add_accepted("otlp_grpc", accepted);
                state.metrics.add_rejected("otlp_grpc", "invalid_record", rejected.len());
                Ok((accepted, rejected))
            }
            Err(e) => {
                state.metrics.add_rejected("otlp_grpc", e.code(), 1);
                Err(status_of(e))
            }
        }
    }
}

fn message(rejected: &[trawl_ingest::Rejection]) -> String {
    rejected.iter().take(5).map(|r| r.reason.as_str()).collect::<Vec<_>>().join("; ")
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(&self, request: Request<ExportLogsServiceRequest>) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let batch = trawl_ingest::logs_from_request(request.into_inner(), now_ns());
        let (_, rejected) = self.write(batch).await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (!rejected.is_empty())
                .then(|| ExportLogsPartialSuccess { rejected_log_records: rejected.len() as i64, error_message: message(&rejected) }),
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(&self, request: Request<ExportTraceServiceRequest>) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let batch = trawl_ingest::traces_from_request(request.into_inner(), now_ns());
        let (_, rejected) = self.write(batch).await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (!rejected.is_empty())
                .then(|| ExportTracePartialSuccess { rejected_spans: rejected.len() as i64, error_message: message(&rejected) }),
        }))
    }
}

/// The OTLP/gRPC services (gzip accepted), ready to serve on `:4317`.
/// Requests are admitted (`admit_write`) by an interceptor, before tonic decodes the message.
pub fn grpc_routes(state: AppState) -> tonic::service::Routes {
    let max = state.limits.max_decompressed_bytes;
    let admit = {
        let state = state.clone();
        move |request: tonic::Request<()>| -> Result<tonic::Request<()>, Status> {
            crate::ingest::admit_write(&state).map_err(|e| {
                state.metrics.add_rejected("otlp_grpc", e.code(), 1);
                status_of(e)
            })?;
            Ok(request)
        }
    };
    let logs = LogsServiceServer::new(Otlp(state.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let traces = TraceServiceServer::new(Otlp(state))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    tonic::service::Routes::new(tonic::service::interceptor::InterceptedService::new(logs, admit.clone()))
        .add_service(tonic::service::interceptor::InterceptedService::new(traces, admit))
}
