//! Logs and traces of the server process, set up once by `main`:
//!
//! - the filter is `RUST_LOG` (`tracing` `EnvFilter` syntax, default `info`);
//! - lines are text (the default) or one JSON object per line
//!   (`NEXUS_LOG_FORMAT=json`), each carrying the fields of the spans it is
//!   in — inside a request, its `request` span's `request_id`, method and
//!   route; inside a plugin call, its `plugin_call` span's tenant, binding,
//!   plugin, world and function;
//! - spans are exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT`
//!   (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set ([`otlp`]).

pub mod otlp;

use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// For people: one line per event, span fields in front.
    #[default]
    Text,
    /// For log pipelines: one JSON object per line.
    Json,
}

/// How long flushing the last spans may take when the process ends.
const FLUSH: Duration = Duration::from_secs(5);

/// Keeps trace export running; dropping it exports what is buffered.
pub struct Observability {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Observability {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown_with_timeout(FLUSH)
        {
            eprintln!("Exporting the last spans failed: {error}");
        }
    }
}

/// Installs the process's subscriber: the `RUST_LOG` filter, log lines in
/// `format` on stdout and, when configured, OTLP trace export. Call it once,
/// inside the tokio runtime.
pub fn init(format: LogFormat) -> anyhow::Result<Observability> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = if otlp::configured() { Some(otlp::provider()?) } else { None };
    let traces = provider.as_ref().map(|p| {
        use opentelemetry::trace::TracerProvider as _;
        tracing_opentelemetry::layer().with_tracer(p.tracer("nexus"))
    });
    let colours = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::registry()
        .with(filter)
        .with(lines(format, colours, std::io::stdout))
        .with(traces)
        .try_init()?;
    if provider.is_some() {
        tracing::info!("Exporting traces over OTLP/HTTP.");
    }
    Ok(Observability { provider })
}

/// The log-line layer of a format, writing to `writer` (text in colour
/// when `colours`: a terminal).
pub fn lines<S, W>(format: LogFormat, colours: bool, writer: W) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(colours && format == LogFormat::Text);
    match format {
        LogFormat::Text => Box::new(layer),
        LogFormat::Json => Box::new(layer.json().with_current_span(true).with_span_list(true)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged(format: LogFormat) -> String {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(lines(format, false, buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", request_id = "req-42", method = "GET", route = "/api/wells");
            let _in_request = request.enter();
            let call = tracing::info_span!("plugin_call", tenant = "acme", plugin = "rule");
            call.in_scope(|| tracing::warn!(code = "plugin-trap", "Plugin call failed."));
        });
        let bytes = buffer.0.lock().expect("buffer").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn a_json_line_carries_the_request_id_and_the_call_of_the_spans_it_is_in() {
        let out = logged(LogFormat::Json);
        let line: serde_json::Value = serde_json::from_str(out.lines().next().expect("a line")).expect("JSON");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["fields"]["message"], "Plugin call failed.");
        assert_eq!(line["fields"]["code"], "plugin-trap");
        assert_eq!(line["span"]["name"], "plugin_call");
        assert_eq!(line["spans"][0]["request_id"], "req-42", "{line}");
        assert_eq!(line["spans"][0]["route"], "/api/wells");
        assert_eq!(line["spans"][1]["tenant"], "acme");
    }

    #[test]
    fn a_text_line_carries_the_request_id_too() {
        let out = logged(LogFormat::Text);
        assert!(out.contains("request_id=\"req-42\""), "{out}");
        assert!(out.contains("Plugin call failed."), "{out}");
    }
}
