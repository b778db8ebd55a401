//! The frame the host's Modbus connector produces: one block of registers
//! read with FC03 or FC04, described by its metadata, as big-endian words.

use nexus_plugin_sdk::PluginError;

use crate::config::Table;

/// The content type of a register block.
pub const CONTENT_TYPE: &str = "application/vnd.nexus.modbus-registers";
/// Error code of a frame whose metadata or payload is not a register block.
pub const MALFORMED_FRAME: &str = "malformed-frame";
/// Error code of a frame of another content type.
pub const UNSUPPORTED_CONTENT_TYPE: &str = "unsupported-content-type";

/// One block of registers, checked against its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block<'a> {
    /// Slave id.
    pub unit: u8,
    /// Table read.
    pub table: Table,
    /// Address of the first register.
    pub start: u16,
    /// Registers read (≥ 1; `start + count` ≤ 65536).
    pub count: u32,
    /// The registers as read: 2 bytes each, `2 * count` bytes.
    pub payload: &'a [u8],
}

impl<'a> Block<'a> {
    /// Checks a frame's content type, metadata and payload length.
    pub fn parse(content_type: &str, metadata: &[(String, String)], payload: &'a [u8]) -> Result<Self, PluginError> {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(CONTENT_TYPE) {
            return Err(PluginError::new(
                UNSUPPORTED_CONTENT_TYPE,
                format!("content type {content_type:?} is not {CONTENT_TYPE}"),
            ));
        }
        let unit = field(metadata, "unit")?;
        let unit = unit.parse::<u8>().map_err(|_| malformed(format!("metadata `unit` {unit:?} is not in 0..=255")))?;
        let table = field(metadata, "table")?;
        let table = Table::parse(table)
            .ok_or_else(|| malformed(format!("metadata `table` {table:?} is neither holding nor input")))?;
        let start = field(metadata, "start")?;
        let start =
            start.parse::<u16>().map_err(|_| malformed(format!("metadata `start` {start:?} is not in 0..=65535")))?;
        let count_text = field(metadata, "count")?;
        let count =
            count_text.parse::<u32>().ok().filter(|&c| c >= 1 && u32::from(start) + c <= 65_536).ok_or_else(|| {
                malformed(format!("metadata `count` {count_text:?} is not in 1..={}", 65_536 - u32::from(start)))
            })?;
        if !payload.len().is_multiple_of(2) {
            return Err(malformed(format!("payload of {} bytes is odd: registers are 2 bytes each", payload.len())));
        }
        if payload.len() as u64 != 2 * u64::from(count) {
            return Err(malformed(format!(
                "payload of {} bytes ({} registers) does not match `count` {count}",
                payload.len(),
                payload.len() / 2
            )));
        }
        Ok(Self { unit, table, start, count, payload })
    }

    /// The bytes of `words` registers from `address` of `table`, if the
    /// block holds all of them.
    pub fn slice(&self, table: Table, address: u16, words: u32) -> Option<&'a [u8]> {
        if table != self.table || address < self.start {
            return None;
        }
        let first = u32::from(address - self.start);
        if first + words > self.count {
            return None;
        }
        self.payload.get(2 * first as usize..2 * (first + words) as usize)
    }
}

/// The value of the metadata pair `name`, present exactly once.
fn field<'m>(metadata: &'m [(String, String)], name: &str) -> Result<&'m str, PluginError> {
    let mut values = metadata.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        (None, _) => Err(malformed(format!("metadata `{name}` is missing"))),
        (Some(_), Some(_)) => Err(malformed(format!("metadata `{name}` is given more than once"))),
    }
}

fn malformed(message: String) -> PluginError {
    PluginError::new(MALFORMED_FRAME, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(unit: &str, table: &str, start: &str, count: &str) -> Vec<(String, String)> {
        [("unit", unit), ("table", table), ("start", start), ("count", count)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse<'a>(metadata: &[(String, String)], payload: &'a [u8]) -> Result<Block<'a>, PluginError> {
        Block::parse(CONTENT_TYPE, metadata, payload)
    }

    #[test]
    fn a_block_is_read_from_its_metadata() {
        let payload = [0, 1, 0, 2, 0, 3];
        let block = parse(&meta("17", "input", "100", "3"), &payload).expect("valid");
        assert_eq!((block.unit, block.table, block.start, block.count), (17, Table::Input, 100, 3));
        assert_eq!(block.slice(Table::Input, 101, 2), Some(&payload[2..6]));
        assert_eq!(block.slice(Table::Input, 100, 1), Some(&payload[0..2]));
    }

    #[test]
    fn registers_outside_the_block_are_not_in_it() {
        let payload = [0; 8];
        let block = parse(&meta("1", "holding", "10", "4"), &payload).expect("valid");
        assert_eq!(block.slice(Table::Input, 10, 1), None, "other table");
        assert_eq!(block.slice(Table::Holding, 9, 1), None, "before the block");
        assert_eq!(block.slice(Table::Holding, 14, 1), None, "after the block");
        assert_eq!(block.slice(Table::Holding, 13, 2), None, "straddles the end");
        assert!(block.slice(Table::Holding, 12, 2).is_some());
    }

    #[test]
    fn a_block_may_end_at_the_last_register() {
        let block = parse(&meta("1", "holding", "65534", "2"), &[0; 4]).expect("valid");
        assert!(block.slice(Table::Holding, 65534, 2).is_some());
        let e = parse(&meta("1", "holding", "65535", "2"), &[0; 4]).expect_err("past the end");
        assert!(e.message.contains("1..=1"), "{}", e.message);
    }

    #[test]
    fn odd_payloads_and_count_mismatches_are_malformed() {
        let e = parse(&meta("1", "holding", "0", "2"), &[0; 3]).expect_err("odd");
        assert_eq!(e.code, MALFORMED_FRAME);
        assert!(e.message.contains("odd"), "{}", e.message);
        let e = parse(&meta("1", "holding", "0", "3"), &[0; 4]).expect_err("short");
        assert_eq!(e.code, MALFORMED_FRAME);
        assert!(e.message.contains("(2 registers) does not match `count` 3"), "{}", e.message);
        let e = parse(&meta("1", "holding", "0", "1"), &[0; 4]).expect_err("long");
        assert_eq!(e.code, MALFORMED_FRAME);
    }

    #[test]
    fn missing_or_bad_metadata_is_malformed() {
        let cases = [
            (meta("x", "holding", "0", "1"), "`unit`"),
            (meta("256", "holding", "0", "1"), "`unit`"),
            (meta("1", "coils", "0", "1"), "`table`"),
            (meta("1", "Holding", "0", "1"), "`table`"),
            (meta("1", "holding", "-1", "1"), "`start`"),
            (meta("1", "holding", "65536", "1"), "`start`"),
            (meta("1", "holding", "0", "0"), "`count`"),
            (meta("1", "holding", "0", "1.0"), "`count`"),
        ];
        for (metadata, field) in cases {
            let e = parse(&metadata, &[0; 2]).expect_err("bad");
            assert_eq!(e.code, MALFORMED_FRAME);
            assert!(e.message.contains(field), "{field}: {}", e.message);
        }
        for missing in ["unit", "table", "start", "count"] {
            let metadata: Vec<_> = meta("1", "holding", "0", "1").into_iter().filter(|(k, _)| k != missing).collect();
            let e = parse(&metadata, &[0; 2]).expect_err("missing");
            assert_eq!(e.code, MALFORMED_FRAME);
            assert_eq!(e.message, format!("metadata `{missing}` is missing"));
        }
        let mut twice = meta("1", "holding", "0", "1");
        twice.push(("unit".into(), "2".into()));
        assert!(parse(&twice, &[0; 2]).expect_err("twice").message.contains("more than once"));
    }

    #[test]
    fn other_content_types_are_refused() {
        let metadata = meta("1", "holding", "0", "1");
        let e = Block::parse("application/json", &metadata, &[0; 2]).expect_err("json");
        assert_eq!(e.code, UNSUPPORTED_CONTENT_TYPE);
        let ok = Block::parse("Application/VND.nexus.modbus-registers; v=1", &metadata, &[0; 2]);
        assert!(ok.is_ok(), "case and parameters are ignored");
    }
}
