//! What one Kafka record is: a frame of the device its key names (id or
//! name), or a refusal with a stable code and a reason. Nothing here reads
//! the value: that is the device's decoder's job.

/// What to do with one record.
#[derive(Debug, PartialEq)]
pub(super) enum Sorted<'a> {
    /// One frame: (device id or name, payload).
    Frame(String, &'a [u8]),
    /// It can never be stored.
    Refused {
        /// The device, when the key names one.
        device: Option<String>,
        /// Stable code.
        code: &'static str,
        /// Why.
        reason: String,
    },
}

/// Sorts a record at `at` (`topic/partition@offset`, for reasons) with
/// `key` and `value`; values over `max` bytes are refused
/// (`payload-too-large`).
pub(super) fn sort<'a>(at: &str, key: Option<&[u8]>, value: Option<&'a [u8]>, max: usize) -> Sorted<'a> {
    let refused = |device: Option<String>, code, reason| Sorted::Refused { device, code, reason };
    let device = match key.map(std::str::from_utf8) {
        None | Some(Ok("")) => {
            return refused(None, "no-key", format!("record {at} has no key: the key names the device (id or name)"));
        }
        Some(Err(_)) => return refused(None, "bad-key", format!("record {at} has a key that is not UTF-8")),
        Some(Ok(device)) if device.len() > 256 || device.contains(char::is_control) => {
            return refused(None, "bad-key", format!("record {at} has a key that is no device id or name"));
        }
        Some(Ok(device)) => device.to_string(),
    };
    let Some(value) = value else {
        return refused(Some(device), "no-value", format!("record {at} has no value (a tombstone)"));
    };
    if value.len() > max {
        let reason = format!("record {at} has {} bytes, over the limit of {max}", value.len());
        return refused(Some(device), "payload-too-large", reason);
    }
    Sorted::Frame(device, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_record_is_a_frame_of_its_device() {
        assert_eq!(sort("t/0@1", Some(b"ESP-1"), Some(b"{}"), 10), Sorted::Frame("ESP-1".into(), b"{}"));
    }

    #[test]
    fn refusals_have_codes() {
        let code = |key: Option<&[u8]>, value: Option<&[u8]>| match sort("t/0@1", key, value, 4) {
            Sorted::Refused { code, .. } => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(None, Some(b"1")), "no-key");
        assert_eq!(code(Some(b""), Some(b"1")), "no-key");
        assert_eq!(code(Some(&[0xff, 0xfe]), Some(b"1")), "bad-key");
        assert_eq!(code(Some(b"a\nb"), Some(b"1")), "bad-key");
        assert_eq!(code(Some(b"d"), None), "no-value");
        assert_eq!(code(Some(b"d"), Some(b"12345")), "payload-too-large");
    }
}
