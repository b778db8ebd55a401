//! Setpoint writes: the node's current value is read for its data type,
//! the setpoint is written as a value of that type (Write service, Value
//! attribute), then read back to confirm it.

use std::time::Duration;

use nexus_services::WriteError;
use opcua::client::Session;
use opcua::types::{AttributeId, DataValue, NodeId, ReadValueId, StatusCode, TimestampsToReturn, Variant, WriteValue};

/// Writes `value` to `node` and reads it back: (confirmed, read back).
pub(crate) async fn write(
    session: &Session,
    node: &NodeId,
    value: f64,
    timeout: Duration,
) -> Result<(bool, f64), WriteError> {
    let current = read(session, node, timeout).await?;
    let typed = typed(&current, value)?;
    let request = WriteValue {
        node_id: node.clone(),
        attribute_id: AttributeId::Value as u32,
        value: DataValue::value_only(typed.clone()),
        ..Default::default()
    };
    let results = within(timeout, session.write(&[request])).await?;
    match results.first() {
        Some(status) if status.is_good() => {}
        Some(status) => return Err(WriteError::Refused(format!("{node}: the server answered {}", described(*status)))),
        None => return Err(WriteError::Refused(format!("{node}: the server answered no result"))),
    }
    let back = read(session, node, timeout).await?;
    let read_back = number(&back)
        .ok_or_else(|| WriteError::Refused(format!("{node}: read back a value that is not a number ({back})")))?;
    Ok((back == typed, read_back))
}

async fn read(session: &Session, node: &NodeId, timeout: Duration) -> Result<Variant, WriteError> {
    let request = ReadValueId::new(node.clone(), AttributeId::Value);
    let values = within(timeout, session.read(&[request], TimestampsToReturn::Neither, 0.0)).await?;
    let Some(value) = values.into_iter().next() else {
        return Err(WriteError::Refused(format!("{node}: the server answered no value")));
    };
    let status = value.status.unwrap_or(StatusCode::Good);
    if status.is_bad() {
        return Err(WriteError::Refused(format!("{node}: reading it answered {}", described(status))));
    }
    Ok(value.value.unwrap_or_default())
}

async fn within<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, opcua::types::Error>>,
) -> Result<T, WriteError> {
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Err(WriteError::Timeout(timeout.as_millis() as u64)),
        Ok(Err(error)) => Err(WriteError::Unreachable(error.to_string())),
        Ok(Ok(value)) => Ok(value),
    }
}

/// `BadTypeMismatch (0x80740000)`.
pub(crate) fn described(status: StatusCode) -> String {
    format!("{status} (0x{:08X})", status.bits())
}

/// `value` as a value of `current`'s numeric type, or why it does not fit.
fn typed(current: &Variant, value: f64) -> Result<Variant, WriteError> {
    let out_of_range = |kind: &str| WriteError::OutOfRange(format!("{value} does not fit the node's type {kind}"));
    if !value.is_finite() {
        return Err(out_of_range("(not a finite number)"));
    }
    let whole = value.round();
    macro_rules! int {
        ($variant:ident, $ty:ty, $name:literal) => {
            if whole >= <$ty>::MIN as f64 && whole <= <$ty>::MAX as f64 {
                Ok(Variant::$variant(whole as $ty))
            } else {
                Err(out_of_range($name))
            }
        };
    }
    match current {
        Variant::Double(_) | Variant::Empty => Ok(Variant::Double(value)),
        Variant::Float(_) if value.abs() <= f64::from(f32::MAX) => Ok(Variant::Float(value as f32)),
        Variant::Float(_) => Err(out_of_range("Float")),
        Variant::SByte(_) => int!(SByte, i8, "SByte"),
        Variant::Byte(_) => int!(Byte, u8, "Byte"),
        Variant::Int16(_) => int!(Int16, i16, "Int16"),
        Variant::UInt16(_) => int!(UInt16, u16, "UInt16"),
        Variant::Int32(_) => int!(Int32, i32, "Int32"),
        Variant::UInt32(_) => int!(UInt32, u32, "UInt32"),
        Variant::Int64(_) => int!(Int64, i64, "Int64"),
        Variant::UInt64(_) => int!(UInt64, u64, "UInt64"),
        Variant::Boolean(_) if value == 0.0 || value == 1.0 => Ok(Variant::Boolean(value == 1.0)),
        Variant::Boolean(_) => Err(out_of_range("Boolean (0 or 1)")),
        other => Err(WriteError::Refused(format!("the node holds a {}, not a number", kind(other)))),
    }
}

fn kind(variant: &Variant) -> &'static str {
    match variant {
        Variant::String(_) => "String",
        Variant::DateTime(_) => "DateTime",
        Variant::LocalizedText(_) => "LocalizedText",
        Variant::Array(_) => "array",
        _ => "non-numeric value",
    }
}

/// A numeric value as f64 (Float through its shortest decimal form).
fn number(value: &Variant) -> Option<f64> {
    Some(match value {
        Variant::Double(v) => *v,
        Variant::Float(v) => v.to_string().parse().unwrap_or(f64::from(*v)),
        Variant::SByte(v) => f64::from(*v),
        Variant::Byte(v) => f64::from(*v),
        Variant::Int16(v) => f64::from(*v),
        Variant::UInt16(v) => f64::from(*v),
        Variant::Int32(v) => f64::from(*v),
        Variant::UInt32(v) => f64::from(*v),
        Variant::Int64(v) => *v as f64,
        Variant::UInt64(v) => *v as f64,
        Variant::Boolean(v) => f64::from(u8::from(*v)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setpoint_keeps_the_nodes_type() {
        assert_eq!(typed(&Variant::Double(1.0), 52.5).ok(), Some(Variant::Double(52.5)));
        assert_eq!(typed(&Variant::Float(1.0), 52.5).ok(), Some(Variant::Float(52.5)));
        assert_eq!(typed(&Variant::UInt16(1), 1200.4).ok(), Some(Variant::UInt16(1200)));
        assert!(matches!(typed(&Variant::UInt16(1), -1.0), Err(WriteError::OutOfRange(_))));
        assert!(matches!(typed(&Variant::Int32(1), f64::NAN), Err(WriteError::OutOfRange(_))));
        assert!(matches!(typed(&Variant::from("x"), 1.0), Err(WriteError::Refused(_))));
        assert_eq!(number(&Variant::Float(52.1)), Some(52.1));
    }
}
