//! `nexus plugin publish`, `approve` and `bind`: the author's calls to a
//! Nexus server, with a bearer token (a vendor developer's to publish, a
//! tenant admin's to approve and bind). A refusal is printed as the
//! server's problem document, `code` first.

use std::path::Path;

use nexus_registry::ReleaseClaims;
use serde_json::Value;

use super::{AuthorError, io};

/// A server and a credential.
pub struct Server<'a> {
    /// E.g. `http://127.0.0.1:8080`.
    pub url: &'a str,
    /// Bearer token.
    pub token: &'a str,
}

async fn send(request: reqwest::RequestBuilder, what: &str) -> Result<Value, AuthorError> {
    let response = request.send().await.map_err(|e| AuthorError::Http(format!("{what}: {e}")))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let code = body["code"].as_str().unwrap_or("");
    let detail = body["detail"].as_str().or(body["title"].as_str()).unwrap_or("");
    Err(AuthorError::Http(format!("{what}: {status} {code}: {detail}")))
}

impl Server<'_> {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.url.trim_end_matches('/')))
            .bearer_auth(self.token)
    }

    /// Publishes `component` as a release signed with the key in `key`;
    /// returns the server's release.
    pub async fn publish(
        &self,
        component: &Path,
        key: &Path,
        claims: ReleaseClaims,
        key_id: &str,
    ) -> Result<Value, AuthorError> {
        let claims = super::claims_for(component, claims)?;
        let (signature, _) = super::sign_release(key, &claims)?;
        let bytes = std::fs::read(component).map_err(io(component))?;
        let query = [
            ("package", claims.package.as_str()),
            ("version", &claims.version),
            ("kind", &claims.kind),
            ("key_id", key_id),
            ("signature", &signature),
            ("description", &claims.description),
            ("licence", &claims.licence),
            ("source_url", &claims.source_url),
            ("changelog", &claims.changelog),
        ];
        let request = self.request(reqwest::Method::POST, "/api/vendor-releases").query(&query).body(bytes);
        send(request, "publish").await
    }

    /// The id of the caller's vendor key whose public half is `public`.
    pub async fn key_id(&self, public: &str) -> Result<String, AuthorError> {
        let keys = send(self.request(reqwest::Method::GET, "/api/vendor-keys"), "keys").await?;
        keys.as_array()
            .into_iter()
            .flatten()
            .find(|k| k["public_key"] == public && k["revoked_time"].is_null())
            .and_then(|k| k["id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                AuthorError::Invalid("the key is not registered (POST /api/vendor-keys) or is revoked".into())
            })
    }

    /// A tenant admin approves a release; returns the installed plugin.
    pub async fn approve(&self, release: &str) -> Result<Value, AuthorError> {
        send(self.request(reqwest::Method::POST, &format!("/api/releases/{release}/approve")), "approve").await
    }

    /// A tenant admin binds a plugin version to devices.
    pub async fn bind(&self, plugin: &str, devices: &[String], config: &Value) -> Result<Value, AuthorError> {
        let body = serde_json::json!({"plugin_id": plugin, "device_ids": devices, "config": config});
        send(self.request(reqwest::Method::POST, "/api/bindings").json(&body), "bind").await
    }
}
