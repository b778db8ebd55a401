//! Setpoint writes: a value's register encoding (raw = (value − offset) /
//! scale, rounded for integer types; u16/i16 in one register, u32/i32/f32
//! in two, in the setpoint's word order), its write (FC06 for one
//! register, FC16 for two) and the read-back (FC03) that confirms it.

use nexus_model::{ModbusSetpoint, WordOrder, WordType};
use nexus_services::WriteError;
use tokio_modbus::client::{Context, Reader, Writer};

use super::read::{PollError, request};

/// The registers of `value` for `setpoint`, or why it does not fit.
pub(crate) fn encode(setpoint: &ModbusSetpoint, value: f64) -> Result<Vec<u16>, WriteError> {
    let raw = (value - setpoint.offset) / setpoint.scale;
    let out_of_range = |range: &str| {
        WriteError::OutOfRange(format!(
            "`{}` = {value} is register value {raw}, outside {range} of type {}",
            setpoint.parameter,
            type_name(setpoint.word_type)
        ))
    };
    if !raw.is_finite() {
        return Err(out_of_range("the finite numbers"));
    }
    let rounded = raw.round();
    let pair = |bits: u32| split(bits, setpoint.word_order);
    match setpoint.word_type {
        WordType::U16 if (0.0..=f64::from(u16::MAX)).contains(&rounded) => Ok(vec![rounded as u16]),
        WordType::U16 => Err(out_of_range("0..=65535")),
        WordType::I16 if (f64::from(i16::MIN)..=f64::from(i16::MAX)).contains(&rounded) => {
            Ok(vec![rounded as i16 as u16])
        }
        WordType::I16 => Err(out_of_range("-32768..=32767")),
        WordType::U32 if (0.0..=f64::from(u32::MAX)).contains(&rounded) => Ok(pair(rounded as u32)),
        WordType::U32 => Err(out_of_range("0..=4294967295")),
        WordType::I32 if (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&rounded) => {
            Ok(pair(rounded as i32 as u32))
        }
        WordType::I32 => Err(out_of_range("-2147483648..=2147483647")),
        WordType::F32 if raw.abs() <= f64::from(f32::MAX) => Ok(pair((raw as f32).to_bits())),
        WordType::F32 => Err(out_of_range("the range")),
    }
}

/// The value `words` (as read back) hold for `setpoint`, scaled; `None`
/// when there are not as many words as the type takes.
pub(crate) fn decode(setpoint: &ModbusSetpoint, words: &[u16]) -> Option<f64> {
    let joined = || match (words, setpoint.word_order) {
        ([high, low], WordOrder::Big) | ([low, high], WordOrder::Little) => {
            Some(u32::from(*high) << 16 | u32::from(*low))
        }
        _ => None,
    };
    let raw = match setpoint.word_type {
        WordType::U16 | WordType::I16 if words.len() != 1 => return None,
        WordType::U16 => f64::from(words[0]),
        WordType::I16 => f64::from(words[0] as i16),
        WordType::U32 => f64::from(joined()?),
        WordType::I32 => f64::from(joined()? as i32),
        // Widened through its shortest decimal form, as the decoder does:
        // 123.456f32 reads back as 123.456.
        WordType::F32 => {
            let value = f32::from_bits(joined()?);
            value.to_string().parse::<f64>().unwrap_or(f64::from(value))
        }
    };
    Some(raw * setpoint.scale + setpoint.offset)
}

/// How many registers the type takes.
pub(crate) fn words(word_type: WordType) -> u16 {
    match word_type {
        WordType::U16 | WordType::I16 => 1,
        WordType::U32 | WordType::I32 | WordType::F32 => 2,
    }
}

fn split(bits: u32, order: WordOrder) -> Vec<u16> {
    let (high, low) = ((bits >> 16) as u16, bits as u16);
    match order {
        WordOrder::Big => vec![high, low],
        WordOrder::Little => vec![low, high],
    }
}

fn type_name(word_type: WordType) -> &'static str {
    match word_type {
        WordType::U16 => "u16",
        WordType::I16 => "i16",
        WordType::U32 => "u32",
        WordType::I32 => "i32",
        WordType::F32 => "f32",
    }
}

/// Why a write failed, and whether the connection must be made again.
pub(crate) struct Failed {
    /// The answer to the write.
    pub(crate) error: WriteError,
    /// The request error behind it, when the connection is in doubt.
    pub(crate) poll: Option<PollError>,
}

impl From<WriteError> for Failed {
    fn from(error: WriteError) -> Self {
        Self { error, poll: None }
    }
}

impl From<PollError> for Failed {
    fn from(poll: PollError) -> Self {
        let error = match &poll {
            PollError::Timeout { timeout_ms, .. } => WriteError::Timeout(u64::from(*timeout_ms)),
            PollError::Exception { .. } => WriteError::Refused(poll.to_string()),
            _ => WriteError::Unreachable(poll.to_string()),
        };
        Self { error, poll: poll.reconnect().then_some(poll) }
    }
}

/// Writes `value` to `setpoint` (FC06 or FC16) and reads it back (FC03):
/// (confirmed — the registers read back are the ones written —, the value
/// read back).
pub(crate) async fn write(
    ctx: &mut Context,
    setpoint: &ModbusSetpoint,
    value: f64,
    timeout_ms: u32,
) -> Result<(bool, f64), Failed> {
    let written = encode(setpoint, value)?;
    let address = setpoint.address;
    if let [word] = written.as_slice() {
        let what = || format!("FC06 write of holding {address}");
        request(what, timeout_ms, ctx.write_single_register(address, *word)).await?;
    } else {
        let what = || format!("FC16 write of holding {address}..{}", u32::from(address) + 2);
        request(what, timeout_ms, ctx.write_multiple_registers(address, &written)).await?;
    }
    let count = words(setpoint.word_type);
    let what = || format!("FC03 read-back of holding {address}..{}", u32::from(address) + u32::from(count));
    let read = request(what, timeout_ms, ctx.read_holding_registers(address, count)).await?;
    let read_back = decode(setpoint, &read).ok_or_else(|| {
        Failed::from(PollError::BadReply {
            what: what(),
            reason: format!("asked for {count} registers, the reply holds {}", read.len()),
        })
    })?;
    Ok((read == written, read_back))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setpoint(word_type: WordType, word_order: WordOrder, scale: f64, offset: f64) -> ModbusSetpoint {
        ModbusSetpoint { parameter: "p".into(), address: 0, word_type, scale, offset, word_order }
    }

    fn out_of_range(result: Result<Vec<u16>, WriteError>) -> bool {
        matches!(result, Err(WriteError::OutOfRange(_)))
    }

    #[test]
    fn sixteen_bit_types_take_one_register_scaled_and_rounded() {
        let freq = setpoint(WordType::U16, WordOrder::Big, 0.01, 0.0);
        assert_eq!(encode(&freq, 52.3).ok(), Some(vec![5230]));
        // raw × scale + offset, as the decoder stores it.
        assert!(decode(&freq, &[5230]).is_some_and(|v| (v - 52.3).abs() < 1e-9));
        assert_eq!(encode(&freq, 655.35).ok(), Some(vec![65535]));
        assert!(out_of_range(encode(&freq, 655.36)));
        assert!(out_of_range(encode(&freq, -0.01)));
        assert_eq!(encode(&freq, -0.004).ok(), Some(vec![0]), "rounds to 0");

        let temp = setpoint(WordType::I16, WordOrder::Big, 0.1, -40.0);
        assert_eq!(encode(&temp, -52.5).ok(), Some(vec![(-125i16) as u16]));
        assert!(decode(&temp, &[0xFF83]).is_some_and(|v| (v + 52.5).abs() < 1e-9));
        assert_eq!(encode(&temp, 3236.7).ok(), Some(vec![32767]));
        assert!(out_of_range(encode(&temp, 3236.8)));
        assert!(out_of_range(encode(&temp, -3316.9)));
        assert!(out_of_range(encode(&temp, f64::NAN)));
        assert_eq!(decode(&temp, &[1, 2]), None);
    }

    #[test]
    fn thirty_two_bit_types_take_two_registers_in_either_word_order() {
        let big = setpoint(WordType::U32, WordOrder::Big, 1.0, 0.0);
        let little = setpoint(WordType::U32, WordOrder::Little, 1.0, 0.0);
        assert_eq!(encode(&big, 100_000.0).ok(), Some(vec![0x0001, 0x86A0]));
        assert_eq!(encode(&little, 100_000.0).ok(), Some(vec![0x86A0, 0x0001]));
        assert_eq!(decode(&little, &[0x86A0, 0x0001]), Some(100_000.0));
        assert!(out_of_range(encode(&big, 4_294_967_296.0)));
        assert!(out_of_range(encode(&big, -1.0)));

        let signed = setpoint(WordType::I32, WordOrder::Big, 1.0, 0.0);
        assert_eq!(encode(&signed, -2.0).ok(), Some(vec![0xFFFF, 0xFFFE]));
        assert_eq!(decode(&signed, &[0xFFFF, 0xFFFE]), Some(-2.0));
        assert_eq!(encode(&signed, -2_147_483_648.0).ok(), Some(vec![0x8000, 0x0000]));
        assert!(out_of_range(encode(&signed, 2_147_483_648.0)));

        let float = setpoint(WordType::F32, WordOrder::Big, 1.0, 0.0);
        let swapped = setpoint(WordType::F32, WordOrder::Little, 1.0, 0.0);
        assert_eq!(encode(&float, 123.456).ok(), Some(vec![0x42F6, 0xE979]));
        assert_eq!(encode(&swapped, 123.456).ok(), Some(vec![0xE979, 0x42F6]));
        assert_eq!(decode(&float, &[0x42F6, 0xE979]), Some(123.456));
        assert_eq!(decode(&swapped, &[0xE979, 0x42F6]), Some(123.456));
        assert!(out_of_range(encode(&float, 1e39)));
        assert!(out_of_range(encode(&float, f64::INFINITY)));
        assert_eq!(decode(&float, &[0x42F6]), None);
    }

    #[test]
    fn scale_and_offset_apply_both_ways() {
        let scaled = setpoint(WordType::F32, WordOrder::Big, 2.0, 10.0);
        let words = encode(&scaled, 30.0).expect("fits");
        assert_eq!(words, split(10.0f32.to_bits(), WordOrder::Big));
        assert_eq!(decode(&scaled, &words), Some(30.0));
    }
}
