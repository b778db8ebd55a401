//! One register block read (FC03 or FC04) under the slave's timeout, the
//! frame it becomes, and how a failed request is classified into stable
//! error codes.

use std::time::Duration;

use nexus_model::{Frame, RegisterBlock, RegisterTable, SourceKind, TimestampMs};
use tokio_modbus::client::{Context, Reader};

/// The content type of register frames (what the decoder
/// `decoder-modbus-registers` reads).
pub(crate) const CONTENT_TYPE: &str = "application/vnd.nexus.modbus-registers";

/// Why a request to a slave failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum PollError {
    /// The slave's address did not resolve or the connection was refused
    /// or timed out.
    #[error("cannot connect to {address}: {reason}")]
    Connect {
        /// `host:port`.
        address: String,
        /// Why.
        reason: String,
    },
    /// No reply within the slave's timeout.
    #[error("no reply to {what} within {timeout_ms} ms")]
    Timeout {
        /// The request.
        what: String,
        /// The timeout.
        timeout_ms: u32,
    },
    /// The slave answered with a Modbus exception.
    #[error("{what}: the slave answered with exception {code}")]
    Exception {
        /// The request.
        what: String,
        /// The exception, e.g. `IllegalDataAddress`.
        code: String,
    },
    /// The reply broke the protocol: malformed, truncated, or not the
    /// number of registers asked for.
    #[error("{what}: bad reply: {reason}")]
    BadReply {
        /// The request.
        what: String,
        /// Why.
        reason: String,
    },
    /// The connection broke.
    #[error("{what}: connection lost: {reason}")]
    Io {
        /// The request.
        what: String,
        /// Why.
        reason: String,
    },
}

impl PollError {
    /// A stable code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "modbus-connect",
            Self::Timeout { .. } => "modbus-timeout",
            Self::Exception { .. } => "modbus-exception",
            Self::BadReply { .. } => "modbus-bad-reply",
            Self::Io { .. } => "modbus-io",
        }
    }

    /// Whether the connection must be dropped and made again: after
    /// anything but an exception (a late or misframed reply could
    /// otherwise be taken for the answer to the next request).
    pub(crate) fn reconnect(&self) -> bool {
        !matches!(self, Self::Exception { .. })
    }
}

/// Runs one Modbus request under `timeout` and classifies its failure.
pub(crate) async fn request<T>(
    what: impl Fn() -> String,
    timeout_ms: u32,
    call: impl std::future::Future<Output = tokio_modbus::Result<T>>,
) -> Result<T, PollError> {
    match tokio::time::timeout(Duration::from_millis(timeout_ms.into()), call).await {
        Err(_) => Err(PollError::Timeout { what: what(), timeout_ms }),
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(code))) => Err(PollError::Exception { what: what(), code: format!("{code:?}") }),
        Ok(Err(tokio_modbus::Error::Protocol(error))) => {
            Err(PollError::BadReply { what: what(), reason: error.to_string() })
        }
        Ok(Err(tokio_modbus::Error::Transport(error))) => match error.kind() {
            // The codec's verdicts on the reply's bytes.
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                Err(PollError::BadReply { what: what(), reason: format!("malformed or truncated reply ({error})") })
            }
            _ => Err(PollError::Io { what: what(), reason: error.to_string() }),
        },
    }
}

/// Reads `block` and checks that the reply holds exactly the registers
/// asked for.
pub(crate) async fn read_block(
    ctx: &mut Context,
    block: &RegisterBlock,
    timeout_ms: u32,
) -> Result<Vec<u16>, PollError> {
    let what = || describe(block);
    let words = match block.table {
        RegisterTable::Holding => {
            request(what, timeout_ms, ctx.read_holding_registers(block.start, block.count)).await?
        }
        RegisterTable::Input => request(what, timeout_ms, ctx.read_input_registers(block.start, block.count)).await?,
    };
    if words.len() != usize::from(block.count) {
        return Err(PollError::BadReply {
            what: what(),
            reason: format!("asked for {} registers, the reply holds {}", block.count, words.len()),
        });
    }
    Ok(words)
}

/// `FC03 holding 0..10`.
fn describe(block: &RegisterBlock) -> String {
    let fc = match block.table {
        RegisterTable::Holding => "FC03",
        RegisterTable::Input => "FC04",
    };
    format!(
        "{fc} read of {} {}..{}",
        block.table.as_str(),
        block.start,
        u32::from(block.start) + u32::from(block.count)
    )
}

/// The frame of one block read from slave `unit`.
pub(crate) fn frame(unit: u8, block: &RegisterBlock, words: &[u16], received_at: TimestampMs) -> Frame {
    let table = block.table.as_str();
    Frame {
        source: SourceKind::Modbus,
        device_id: Default::default(),
        topic: format!("modbus:{unit}/{table}/{}", block.start),
        content_type: CONTENT_TYPE.to_string(),
        payload: words.iter().flat_map(|word| word.to_be_bytes()).collect(),
        received_at,
        metadata: vec![
            ("unit".into(), unit.to_string()),
            ("table".into(), table.into()),
            ("start".into(), block.start.to_string()),
            ("count".into(), block.count.to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_what_the_register_decoder_reads() {
        let block = RegisterBlock { table: RegisterTable::Input, start: 40, count: 2 };
        let frame = frame(7, &block, &[0x1234, 0xABCD], 1_700_000_000_000);
        assert_eq!(frame.topic, "modbus:7/input/40");
        assert_eq!(frame.content_type, CONTENT_TYPE);
        assert_eq!(frame.payload, [0x12, 0x34, 0xAB, 0xCD]);
        assert_eq!(frame.source, SourceKind::Modbus);
        let metadata: Vec<(&str, &str)> = frame.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(metadata, [("unit", "7"), ("table", "input"), ("start", "40"), ("count", "2")]);
    }
}
