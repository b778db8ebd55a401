//! Trace export over OTLP/HTTP (protobuf) to `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (`…/v1/traces` is appended) or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used
//! as is). The SDK's batch processor runs on its own thread and drives the
//! exporter there; the exporter sends through the workspace's async
//! reqwest client on the server's tokio runtime ([`TokioClient`]), so the
//! build has one reqwest and no gRPC stack. The standard `OTEL_*` variables
//! apply (`OTEL_SERVICE_NAME`, default `nexus`; `OTEL_BSP_SCHEDULE_DELAY`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, …).

use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Largest answer body of a collector read back.
const MAX_ANSWER: usize = 1 << 20;
/// Deadline of one export request.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether trace export is configured (a standard endpoint variable is set).
pub fn configured() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// A batch-exporting tracer provider for the configured endpoint. Call it
/// inside the tokio runtime the server runs on.
pub fn provider() -> anyhow::Result<SdkTracerProvider> {
    let runtime = tokio::runtime::Handle::try_current().context("trace export needs the tokio runtime")?;
    let client = reqwest::Client::builder().timeout(EXPORT_TIMEOUT).build().context("building the HTTP client")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(TokioClient { client, runtime })
        .build()
        .context("building the OTLP trace exporter")?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("nexus");
    }
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}

/// The exporter's HTTP client: each request runs as a task on the server's
/// runtime, awaited from the batch processor's thread.
#[derive(Debug)]
struct TokioClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait]
impl HttpClient for TokioClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let request = reqwest::Request::try_from(request)?;
        let task = self.runtime.spawn(async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = task.await??;
        let body = body.slice(..body.len().min(MAX_ANSWER));
        let mut response = Response::builder().status(status).body(body)?;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
