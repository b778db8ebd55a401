//! Registers to a value: byte order within each register, word order
//! across the two registers of a 32-bit type, then scale and offset.

use nexus_plugin_sdk::Value;

use crate::config::{Order, Register, RegisterType};

/// A raw value before scaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Raw {
    /// u16, i16, u32 or i32.
    Integer(i64),
    /// f32, widened.
    Float(f64),
}

/// Reads `bytes` (2 per register, as on the wire; `kind.words()` registers)
/// as `kind` in the given orders, or `None` if `bytes` has another length.
pub fn raw(bytes: &[u8], kind: RegisterType, word_order: Order, byte_order: Order) -> Option<Raw> {
    if bytes.len() != 2 * kind.words() as usize {
        return None;
    }
    let mut words = bytes.chunks_exact(2).map(|pair| match byte_order {
        Order::Big => u16::from_be_bytes([pair[0], pair[1]]),
        Order::Little => u16::from_le_bytes([pair[0], pair[1]]),
    });
    let first = words.next()?;
    // The second register of a 32-bit type (none for 16-bit types).
    let second = words.next().unwrap_or_default();
    let bits32 = match word_order {
        Order::Big => u32::from(first) << 16 | u32::from(second),
        Order::Little => u32::from(second) << 16 | u32::from(first),
    };
    Some(match kind {
        RegisterType::U16 => Raw::Integer(i64::from(first)),
        RegisterType::I16 => Raw::Integer(i64::from(first as i16)),
        RegisterType::U32 => Raw::Integer(i64::from(bits32)),
        RegisterType::I32 => Raw::Integer(i64::from(bits32 as i32)),
        RegisterType::F32 => Raw::Float(widen(f32::from_bits(bits32))),
    })
}

/// An f32 as the f64 of its shortest decimal form, so 123.456 reads as
/// 123.456 and not 123.45600128173828 (NaN and infinities stay as they are).
fn widen(value: f32) -> f64 {
    if value.is_finite() { value.to_string().parse().unwrap_or(f64::from(value)) } else { f64::from(value) }
}

/// The reading value of `register` from its bytes: integers unchanged when
/// the register has scale 1 and offset 0, else `raw * scale + offset` as a
/// number.
pub fn value(bytes: &[u8], register: &Register) -> Option<Value> {
    let raw = raw(bytes, register.kind, register.word_order, register.byte_order)?;
    Some(match raw {
        Raw::Integer(i) if register.is_identity() => Value::Integer(i),
        Raw::Integer(i) => Value::Number(i as f64 * register.scale + register.offset),
        Raw::Float(f) if register.is_identity() => Value::Number(f),
        Raw::Float(f) => Value::Number(f * register.scale + register.offset),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Table;
    use Order::{Big, Little};

    /// 123.456_f32 is 0x42F6E979: bytes A B C D = 42 F6 E9 79.
    const F32_ABCD: [u8; 4] = [0x42, 0xF6, 0xE9, 0x79];

    #[test]
    fn f32_in_all_four_orders() {
        let cases = [
            (Big, Big, F32_ABCD),                       // ABCD
            (Little, Big, [0xE9, 0x79, 0x42, 0xF6]),    // CDAB (word swap)
            (Big, Little, [0xF6, 0x42, 0x79, 0xE9]),    // BADC (byte swap)
            (Little, Little, [0x79, 0xE9, 0xF6, 0x42]), // DCBA
        ];
        for (word, byte, bytes) in cases {
            assert_eq!(raw(&bytes, RegisterType::F32, word, byte), Some(Raw::Float(123.456)), "{word:?}/{byte:?}");
        }
    }

    #[test]
    fn u32_and_i32_in_all_four_orders() {
        // 0x12345678 = 305419896; as i32 0xFFFFFFFE = -2.
        let cases = [
            (Big, Big, [0x12, 0x34, 0x56, 0x78]),
            (Little, Big, [0x56, 0x78, 0x12, 0x34]),
            (Big, Little, [0x34, 0x12, 0x78, 0x56]),
            (Little, Little, [0x78, 0x56, 0x34, 0x12]),
        ];
        for (word, byte, bytes) in cases {
            assert_eq!(raw(&bytes, RegisterType::U32, word, byte), Some(Raw::Integer(0x1234_5678)));
            assert_eq!(raw(&bytes, RegisterType::I32, word, byte), Some(Raw::Integer(0x1234_5678)));
        }
        let all_ones = [0xFF, 0xFF, 0xFF, 0xFE];
        assert_eq!(raw(&all_ones, RegisterType::U32, Big, Big), Some(Raw::Integer(4_294_967_294)));
        assert_eq!(raw(&all_ones, RegisterType::I32, Big, Big), Some(Raw::Integer(-2)));
        assert_eq!(raw(&all_ones, RegisterType::I32, Little, Big), Some(Raw::Integer(-65_537)));
    }

    #[test]
    fn sixteen_bit_types_and_byte_order() {
        assert_eq!(raw(&[0xFF, 0x38], RegisterType::U16, Big, Big), Some(Raw::Integer(65_336)));
        assert_eq!(raw(&[0xFF, 0x38], RegisterType::I16, Big, Big), Some(Raw::Integer(-200)));
        assert_eq!(raw(&[0x38, 0xFF], RegisterType::I16, Big, Little), Some(Raw::Integer(-200)));
        // Word order does not apply to one register.
        assert_eq!(raw(&[0x01, 0x02], RegisterType::U16, Little, Big), Some(Raw::Integer(0x0102)));
        assert_eq!(raw(&[0x01, 0x02], RegisterType::U16, Big, Little), Some(Raw::Integer(0x0201)));
    }

    #[test]
    fn wrong_lengths_are_none() {
        assert_eq!(raw(&[0; 2], RegisterType::F32, Big, Big), None);
        assert_eq!(raw(&[0; 4], RegisterType::U16, Big, Big), None);
        assert_eq!(raw(&[], RegisterType::U16, Big, Big), None);
    }

    #[test]
    fn non_finite_floats_are_kept() {
        let nan = f32::NAN.to_bits().to_be_bytes();
        assert!(matches!(raw(&nan, RegisterType::F32, Big, Big), Some(Raw::Float(f)) if f.is_nan()));
        let inf = f32::INFINITY.to_bits().to_be_bytes();
        assert_eq!(raw(&inf, RegisterType::F32, Big, Big), Some(Raw::Float(f64::INFINITY)));
    }

    fn register(kind: RegisterType, scale: f64, offset: f64) -> Register {
        Register {
            key: "k".into(),
            table: Table::Holding,
            address: 0,
            kind,
            word_order: Big,
            byte_order: Big,
            scale,
            offset,
        }
    }

    #[test]
    fn integers_stay_integers_only_without_scaling() {
        assert_eq!(value(&[0x01, 0xF4], &register(RegisterType::U16, 1.0, 0.0)), Some(Value::Integer(500)));
        assert_eq!(value(&[0x01, 0xF4], &register(RegisterType::U16, 0.1, 0.0)), Some(Value::Number(50.0)));
        assert_eq!(value(&[0xFF, 0x38], &register(RegisterType::I16, 0.5, -10.0)), Some(Value::Number(-110.0)));
        assert_eq!(value(&F32_ABCD, &register(RegisterType::F32, 1.0, 0.0)), Some(Value::Number(123.456)));
        let near = |v: Option<Value>, expected: f64| match v {
            Some(Value::Number(n)) => assert!((n - expected).abs() < 1e-9, "{n} != {expected}"),
            other => panic!("{other:?} is not a number"),
        };
        near(value(&[0x00, 0x0A], &register(RegisterType::U16, 1.0, 273.15)), 283.15);
        near(value(&F32_ABCD, &register(RegisterType::F32, 2.0, 1.0)), 247.912);
        near(value(&[0xFF, 0xFF, 0xFF, 0xFE], &register(RegisterType::I32, 0.01, 0.0)), -0.02);
        near(value(&[0x00, 0x01, 0x00, 0x00], &register(RegisterType::U32, 0.001, 0.0)), 65.536);
    }
}
