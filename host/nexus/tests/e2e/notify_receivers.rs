//! Real receivers of notifications on loopback: an HTTP server that
//! records every request (a webhook receiver), and aiosmtpd (an SMTP
//! server, `.ci/smtp-sink`) whose received messages are read from its
//! output.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A request a webhook receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) path: String,
    /// Header names in lower case.
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// An HTTP/1.1 server that records every request and answers each path
/// with a status (200 unless told otherwise), one request a connection.
pub(crate) struct WebhookReceiver {
    pub(crate) addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    /// Listens on `addr` (port 0: any free port).
    pub(crate) async fn start(addr: SocketAddr, statuses: &[(&str, u16)]) -> Self {
        Self::start_slow(addr, statuses, Duration::ZERO).await
    }

    /// As [`WebhookReceiver::start`], taking `delay` to answer each request
    /// (after reading it whole).
    pub(crate) async fn start_slow(addr: SocketAddr, statuses: &[(&str, u16)], delay: Duration) -> Self {
        let listener = TcpListener::bind(addr).await.expect("the receiver binds");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let statuses: Arc<HashMap<String, u16>> =
            Arc::new(statuses.iter().map(|(path, status)| (path.to_string(), *status)).collect());
        let (log, answers) = (received.clone(), statuses.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (log, answers) = (log.clone(), answers.clone());
                tokio::spawn(async move {
                    if let Some(request) = read_request(stream, &answers, delay).await {
                        log.lock().expect("lock").push(request);
                    }
                });
            }
        });
        Self { addr, received, task }
    }

    /// Every request so far, in arrival order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request, answers it, and returns it.
async fn read_request(stream: TcpStream, statuses: &HashMap<String, u16>, delay: Duration) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    tokio::time::sleep(delay).await;
    let status = statuses.get(&path).copied().unwrap_or(200);
    let answer = format!("HTTP/1.1 {status} Answer\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let mut stream = reader.into_inner();
    stream.write_all(answer.as_bytes()).await.ok()?;
    stream.shutdown().await.ok()?;
    Some(Received { path, headers, body })
}

/// A port nothing listens on (it was free a moment ago).
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

/// aiosmtpd, started by `.ci/smtp-sink` (which installs it once into a
/// venv); killed when dropped.
pub(crate) struct SmtpSink {
    pub(crate) port: u16,
    messages: Arc<Mutex<Vec<Value>>>,
    child: std::process::Child,
}

impl SmtpSink {
    pub(crate) async fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ci/smtp-sink");
        let mut child = std::process::Command::new(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect(".ci/smtp-sink starts (it needs python3)");
        let stdout = child.stdout.take().expect("stdout");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        let log = messages.clone();
        // Its output, line by line, on a thread of its own.
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut lines = std::io::BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = port_tx.send(serde_json::from_str::<Value>(&first).ok().and_then(|v| v["listening"].as_u64()));
            for line in lines.map_while(Result::ok) {
                log.lock().expect("lock").push(serde_json::from_str(&line).expect("a JSON line"));
            }
        });
        // The first start installs aiosmtpd from PyPI.
        let port = tokio::time::timeout(Duration::from_secs(300), port_rx)
            .await
            .expect("the SMTP sink listens within 5 minutes")
            .expect("its first line")
            .expect("{\"listening\": PORT}");
        Self { port: u16::try_from(port).expect("a port"), messages, child }
    }

    /// Every message so far: mail_from, rcpt_tos, subject, message_id,
    /// delivery (`X-Nexus-Delivery`), body.
    pub(crate) fn messages(&self) -> Vec<Value> {
        self.messages.lock().expect("lock").clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
