//! Where an incoming MQTT message goes, by its topic: a device topic is one
//! frame, a ThingsBoard gateway message is split into one frame per device,
//! an RPC response answers a pending setpoint write, and anything else is
//! refused with a stable code and a reason.

/// What to do with one message.
#[derive(Debug, PartialEq)]
pub(super) enum Route {
    /// Frames to deliver, in order: (device id or name, payload).
    Frames(Vec<(String, Vec<u8>)>),
    /// A device's answer to RPC request `id`.
    RpcResponse {
        /// The device id in the topic.
        device: String,
        /// The request number.
        id: u64,
    },
    /// It can never be stored.
    Refused {
        /// The device, when the topic names one.
        device: Option<String>,
        /// Stable code.
        code: &'static str,
        /// Why.
        reason: String,
    },
}

/// Sorts a message on `topic` with `payload`; payloads over `max` bytes are
/// refused (`payload-too-large`), and so is a message on a topic that none
/// of the connector's `filters` matches (`unsubscribed-topic`: a
/// subscription the broker's persistent session kept after the topic was
/// removed from the settings). RPC responses are always taken.
pub(super) fn route(topic: &str, payload: &[u8], max: usize, filters: &[String]) -> Route {
    let parts: Vec<&str> = topic.split('/').collect();
    let device = match parts.as_slice() {
        ["v1", "devices", device, ..] if !device.is_empty() => Some((*device).to_string()),
        _ => None,
    };
    let rpc_response = matches!(parts.as_slice(), ["v1", "devices", _, "rpc", "response", _]);
    if !rpc_response && !filters.iter().any(|filter| matches_filter(filter, topic)) {
        return Route::Refused {
            device,
            code: "unsubscribed-topic",
            reason: format!("topic `{topic}` matches none of the connector's topics {filters:?}"),
        };
    }
    if payload.len() > max {
        return Route::Refused {
            device,
            code: "payload-too-large",
            reason: format!("a message on `{topic}` has {} bytes, over the limit of {max}", payload.len()),
        };
    }
    match parts.as_slice() {
        ["v1", "devices", name, "telemetry" | "attributes"] if !name.is_empty() => {
            Route::Frames(vec![((*name).to_string(), payload.to_vec())])
        }
        ["v1", "devices", name, "rpc", "response", id] if !name.is_empty() => match id.parse() {
            Ok(id) => Route::RpcResponse { device: (*name).to_string(), id },
            Err(_) => unknown(topic, device),
        },
        ["v1", "gateway", "telemetry" | "attributes"] => gateway(topic, payload),
        _ => unknown(topic, device),
    }
}

/// Whether MQTT topic filter `filter` (with `+` and `#` wildcards) matches
/// `topic`.
pub(super) fn matches_filter(filter: &str, topic: &str) -> bool {
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match (level, topic_levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (level, Some(actual)) if level == actual => {}
            _ => return false,
        }
    }
    topic_levels.next().is_none()
}

fn unknown(topic: &str, device: Option<String>) -> Route {
    Route::Refused {
        device,
        code: "unknown-topic",
        reason: format!(
            "topic `{topic}` is none of v1/devices/{{device}}/telemetry|attributes, v1/gateway/telemetry|attributes"
        ),
    }
}

/// A gateway message: `{"Device A": <payload of A>, "Device B": …}`.
fn gateway(topic: &str, payload: &[u8]) -> Route {
    let malformed = |why: String| Route::Refused {
        device: None,
        code: "malformed-json",
        reason: format!("gateway message on `{topic}`: {why}"),
    };
    let object = match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => return malformed("expected an object {device name: payload}".into()),
        Err(error) => return malformed(error.to_string()),
    };
    if object.is_empty() {
        return malformed("no device in it".into());
    }
    let mut frames = Vec::with_capacity(object.len());
    for (name, value) in object {
        if name.is_empty() {
            return malformed("an empty device name".into());
        }
        frames.push((name, value.to_string().into_bytes()));
    }
    Route::Frames(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(topic: &str, payload: &[u8], max: usize) -> Route {
        super::route(topic, payload, max, &["#".to_string()])
    }

    #[test]
    fn filters_match_like_a_broker() {
        assert!(matches_filter("v1/devices/+/telemetry", "v1/devices/ESP-1/telemetry"));
        assert!(!matches_filter("v1/devices/+/telemetry", "v1/devices/ESP-1/attributes"));
        assert!(!matches_filter("v1/devices/+/telemetry", "v1/devices/ESP-1/telemetry/x"));
        assert!(matches_filter("v1/#", "v1/gateway/telemetry"));
        assert!(matches_filter("#", "anything/at/all"));
        assert!(matches_filter("v1/gateway/telemetry", "v1/gateway/telemetry"));
        assert!(!matches_filter("v1/gateway/telemetry", "v1/gateway"));
    }

    #[test]
    fn a_topic_no_filter_matches_is_refused_but_rpc_responses_pass() {
        let filters = vec!["v1/devices/+/telemetry".to_string()];
        let refused = super::route("v1/devices/d/attributes", b"{}", 100, &filters);
        assert!(matches!(refused, Route::Refused { code: "unsubscribed-topic", .. }), "{refused:?}");
        let taken = super::route("v1/devices/d/telemetry", b"{}", 100, &filters);
        assert!(matches!(taken, Route::Frames(_)), "{taken:?}");
        let answer = super::route("v1/devices/d/rpc/response/7", b"{}", 100, &filters);
        assert_eq!(answer, Route::RpcResponse { device: "d".into(), id: 7 });
    }

    #[test]
    fn device_topics_are_one_frame() {
        assert_eq!(
            route("v1/devices/ESP-1/telemetry", b"{\"a\":1}", 100),
            Route::Frames(vec![("ESP-1".into(), b"{\"a\":1}".to_vec())])
        );
        assert_eq!(route("v1/devices/d/attributes", b"x", 100), Route::Frames(vec![("d".into(), b"x".to_vec())]));
    }

    #[test]
    fn gateway_messages_split_per_device() {
        let payload = br#"{"A": [{"ts": 1, "values": {"p": 1}}], "B": {"p": 2}}"#;
        let Route::Frames(frames) = route("v1/gateway/telemetry", payload, 1000) else { panic!("frames") };
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], ("A".into(), br#"[{"ts":1,"values":{"p":1}}]"#.to_vec()));
        assert_eq!(frames[1], ("B".into(), br#"{"p":2}"#.to_vec()));
    }

    #[test]
    fn refusals_have_codes() {
        let code = |topic: &str, payload: &[u8]| match route(topic, payload, 10) {
            Route::Refused { code, .. } => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code("v1/gateway/telemetry", b"{nope"), "malformed-json");
        assert_eq!(code("v1/gateway/telemetry", b"[1]"), "malformed-json");
        assert_eq!(code("v1/gateway/telemetry", b"{}"), "malformed-json");
        assert_eq!(code("v1/devices/d/telemetry", &[b'1'; 11]), "payload-too-large");
        assert_eq!(code("v1/devices//telemetry", b"1"), "unknown-topic");
        assert_eq!(code("plant/pump/1", b"1"), "unknown-topic");
        assert_eq!(code("v1/devices/d/rpc/response/x", b"1"), "unknown-topic");
    }

    #[test]
    fn rpc_responses_are_recognised() {
        assert_eq!(
            route("v1/devices/dev-1/rpc/response/42", b"1", 10),
            Route::RpcResponse { device: "dev-1".into(), id: 42 }
        );
    }
}
