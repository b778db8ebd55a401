//! A session on the server: the endpoint's host is resolved and checked
//! against the network policy, the server's endpoints are asked for one
//! without security that admits anonymous users, and the session is made
//! to the address that was checked. The client's own reconnects are off:
//! a lost connection ends the run, and the supervisor makes a new session
//! (and subscription) after its backoff.

use std::sync::Arc;
use std::time::Duration;

use opcua::client::{ClientBuilder, IdentityToken, Session};
use opcua::types::{MessageSecurityMode, StatusCode, UserTokenType};

use crate::{ConnectorError, NetworkPolicy};

/// A connected session and its event loop's task.
pub(crate) struct Connected {
    pub(crate) session: Arc<Session>,
    /// Ends when the connection is lost (with why) or the session closed.
    pub(crate) events: tokio::task::JoinHandle<StatusCode>,
}

/// `opc.tcp://` URL → (`host:port`, path).
fn split(url: &str) -> Result<(String, String), ConnectorError> {
    let (host, port) = nexus_services::opcua_peer(url)
        .ok_or_else(|| ConnectorError::Settings(format!("`{url}` is not an opc.tcp://host[:port] URL")))?;
    let rest = url.trim_start_matches("opc.tcp://");
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
    Ok((format!("{host}:{port}"), path.to_string()))
}

/// Connects to `url` within `timeout`.
pub(crate) async fn connect(url: &str, policy: &NetworkPolicy, timeout: Duration) -> Result<Connected, ConnectorError> {
    let (address, path) = split(url)?;
    let fail = |reason: String| ConnectorError::Connect { peer: url.to_string(), reason };
    let target = policy.resolve(&address).await.map_err(|e| match e {
        crate::policy::Unreachable::Forbidden(reason) => ConnectorError::NotAllowed(reason),
        crate::policy::Unreachable::Unresolved(reason) => fail(reason),
    })?;
    let checked = format!("opc.tcp://{target}{path}");
    let mut client = ClientBuilder::new()
        .application_name("Nexus")
        .application_uri("urn:nexus:connector")
        .product_uri("urn:nexus")
        .create_sample_keypair(false)
        .pki_dir(std::env::temp_dir().join("nexus-opcua-client-pki"))
        .trust_server_certs(false)
        .session_retry_limit(0)
        .request_timeout(timeout)
        .session_timeout(60_000)
        .keep_alive_interval(Duration::from_secs(5))
        .max_failed_keep_alive_count(2)
        .recreate_subscriptions(false)
        .client()
        .map_err(|errors| ConnectorError::Settings(errors.join("; ")))?;
    let endpoints = tokio::time::timeout(timeout, client.get_server_endpoints_from_url(checked.as_str()))
        .await
        .map_err(|_| fail(format!("no answer to GetEndpoints within {} ms", timeout.as_millis())))?
        .map_err(|e| fail(format!("GetEndpoints: {e}")))?;
    let Some(mut endpoint) = endpoints.into_iter().find(|e| {
        e.security_mode == MessageSecurityMode::None
            && e.security_policy_uri.as_ref().ends_with("#None")
            && e.find_policy(UserTokenType::Anonymous).is_some()
    }) else {
        return Err(fail("the server offers no endpoint without security that admits anonymous users".into()));
    };
    // The address that was checked, whatever host name the server calls itself.
    endpoint.endpoint_url = with_authority(endpoint.endpoint_url.as_ref(), &target.to_string()).into();
    let (session, event_loop) =
        client.connect_to_endpoint_directly(endpoint, IdentityToken::Anonymous).map_err(|e| fail(e.to_string()))?;
    let mut events = event_loop.spawn();
    tokio::select! {
        connected = tokio::time::timeout(timeout, session.wait_for_connection()) => {
            if !matches!(connected, Ok(true)) {
                events.abort();
                return Err(fail(format!("no session within {} ms", timeout.as_millis())));
            }
        }
        ended = &mut events => {
            let code = ended.unwrap_or(StatusCode::BadUnexpectedError);
            return Err(fail(format!("{code} (0x{:08X})", code.bits())));
        }
    }
    Ok(Connected { session, events })
}

/// `url` with its `host:port` replaced by `authority` (its path kept).
fn with_authority(url: &str, authority: &str) -> String {
    let rest = url.strip_prefix("opc.tcp://").unwrap_or(url);
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    format!("opc.tcp://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_and_path() {
        assert_eq!(split("opc.tcp://127.0.0.1:4841").ok(), Some(("127.0.0.1:4841".into(), String::new())));
        assert_eq!(split("opc.tcp://plc/UA/Server").ok(), Some(("plc:4840".into(), "/UA/Server".into())));
        assert!(split("http://plc").is_err());
        assert_eq!(with_authority("opc.tcp://plc-7:4840/UA", "10.0.0.7:4840"), "opc.tcp://10.0.0.7:4840/UA");
        assert_eq!(with_authority("opc.tcp://plc-7:4840", "10.0.0.7:4840"), "opc.tcp://10.0.0.7:4840");
    }
}
