//! `nexus plugin push` and `pull`: a component as an OCI artifact in the
//! layout Spin, wasmCloud and `wkg` use (the CNCF TAG Runtime's Wasm OCI
//! artifact): an OCI image manifest whose config is a
//! `application/vnd.wasm.config.v0+json` blob and whose one layer is the
//! component, `application/wasm`. Spoken over the OCI distribution API:
//! blobs uploaded in one `POST` + `PUT` each (skipped when the registry has
//! them), the manifest `PUT` under a tag, and on pull every digest checked.
//!
//! A reference is `[http[s]://]host[:port]/repository:tag` (https unless it
//! says `http://`).

use nexus_registry::content_hash;
use serde_json::{Value, json};

use super::AuthorError;

/// The manifest's media type.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config blob's media type.
pub const CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The component layer's media type.
pub const LAYER: &str = "application/wasm";

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `http://host:port` or `https://host`.
    pub base: String,
    /// E.g. `acme/pressure-rule`.
    pub repository: String,
    /// E.g. `0.1.0`.
    pub tag: String,
}

impl std::str::FromStr for Reference {
    type Err = AuthorError;

    fn from_str(text: &str) -> Result<Self, AuthorError> {
        let bad = || AuthorError::Invalid(format!("`{text}` is not [http[s]://]host[:port]/repository:tag"));
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme @ ("http" | "https"), rest)) => (scheme, rest),
            Some(_) => return Err(bad()),
            None => ("https", text),
        };
        let (host, path) = rest.split_once('/').ok_or_else(bad)?;
        let (repository, tag) = path.rsplit_once(':').ok_or_else(bad)?;
        let valid_repo = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            });
        let valid_tag =
            !tag.is_empty() && tag.len() <= 128 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if host.is_empty() || !valid_repo || !valid_tag {
            return Err(bad());
        }
        Ok(Self { base: format!("{scheme}://{host}"), repository: repository.into(), tag: tag.into() })
    }
}

/// What a push or a pull moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// `sha256:` digest of the component (the layer).
    pub digest: String,
    /// `sha256:` digest of the manifest.
    pub manifest_digest: String,
    /// The component's size, bytes.
    pub size: usize,
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", content_hash(bytes))
}

fn http(what: &str) -> impl FnOnce(reqwest::Error) -> AuthorError + '_ {
    move |e| AuthorError::Http(format!("{what}: {e}"))
}

async fn check(response: reqwest::Response, what: &str) -> Result<reqwest::Response, AuthorError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    Err(AuthorError::Http(format!("{what}: {status} {}", body.chars().take(300).collect::<String>())))
}

/// An OCI registry client with an optional bearer token.
pub struct Registry {
    client: reqwest::Client,
    token: Option<String>,
}

impl Registry {
    /// A client; `token` is sent as a bearer token when given.
    pub fn new(token: Option<String>) -> Self {
        Self { client: reqwest::Client::new(), token }
    }

    fn request(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let request = self.client.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn push_blob(&self, r: &Reference, bytes: &[u8], what: &str) -> Result<String, AuthorError> {
        let digest = digest(bytes);
        let head = format!("{}/v2/{}/blobs/{digest}", r.base, r.repository);
        let existing = self.request(reqwest::Method::HEAD, head).send().await.map_err(http(what))?;
        if existing.status().is_success() {
            return Ok(digest);
        }
        let start = format!("{}/v2/{}/blobs/uploads/", r.base, r.repository);
        let started = check(self.request(reqwest::Method::POST, start).send().await.map_err(http(what))?, what).await?;
        let location = started
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| AuthorError::Http(format!("{what}: the registry gave no upload location")))?;
        let location = if location.starts_with('/') { format!("{}{location}", r.base) } else { location.to_string() };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = self
            .request(reqwest::Method::PUT, format!("{location}{separator}digest={digest}"))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec());
        check(put.send().await.map_err(http(what))?, what).await?;
        Ok(digest)
    }

    /// Pushes `component` under `r`, its config naming the world's target
    /// and the component's imports; returns the digests.
    pub async fn push(&self, r: &Reference, component: &[u8], target: &str) -> Result<Artifact, AuthorError> {
        let layer = self.push_blob(r, component, "component blob").await?;
        let config = json!({
            "created": chrono_now(),
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer],
            "component": {"target": target, "imports": nexus_registry::imports(component), "exports": []},
        })
        .to_string();
        let config_digest = self.push_blob(r, config.as_bytes(), "config blob").await?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": CONFIG,
            "config": {"mediaType": CONFIG, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": LAYER, "digest": layer, "size": component.len()}],
            "annotations": {"org.opencontainers.image.version": r.tag},
        })
        .to_string();
        let url = format!("{}/v2/{}/manifests/{}", r.base, r.repository, r.tag);
        let put = self
            .request(reqwest::Method::PUT, url)
            .header(reqwest::header::CONTENT_TYPE, MANIFEST)
            .body(manifest.clone());
        check(put.send().await.map_err(http("manifest"))?, "manifest").await?;
        Ok(Artifact { digest: layer, manifest_digest: digest(manifest.as_bytes()), size: component.len() })
    }

    /// Pulls the component under `r`, refusing a manifest of other media
    /// types and any blob whose bytes do not match its digest.
    pub async fn pull(&self, r: &Reference) -> Result<(Vec<u8>, Artifact), AuthorError> {
        let url = format!("{}/v2/{}/manifests/{}", r.base, r.repository, r.tag);
        let got = self.request(reqwest::Method::GET, url).header(reqwest::header::ACCEPT, MANIFEST).send().await;
        let got = check(got.map_err(http("manifest"))?, "manifest").await?;
        let text = got.bytes().await.map_err(http("manifest"))?;
        let manifest: Value =
            serde_json::from_slice(&text).map_err(|e| AuthorError::Check(format!("the manifest is not JSON: {e}")))?;
        if manifest["config"]["mediaType"] != CONFIG {
            return Err(AuthorError::Check(format!(
                "not a Wasm component artifact: config media type {}",
                manifest["config"]["mediaType"]
            )));
        }
        let layers: Vec<&Value> =
            manifest["layers"].as_array().into_iter().flatten().filter(|l| l["mediaType"] == LAYER).collect();
        let [layer] = layers[..] else {
            return Err(AuthorError::Check("the manifest must have exactly one application/wasm layer".into()));
        };
        let expected = layer["digest"].as_str().unwrap_or_default().to_string();
        let url = format!("{}/v2/{}/blobs/{expected}", r.base, r.repository);
        let blob = check(self.request(reqwest::Method::GET, url).send().await.map_err(http("blob"))?, "blob").await?;
        let bytes = blob.bytes().await.map_err(http("blob"))?.to_vec();
        if digest(&bytes) != expected {
            return Err(AuthorError::Check(format!("the component's bytes do not match its digest {expected}")));
        }
        let artifact = Artifact { digest: expected, manifest_digest: digest(&text), size: bytes.len() };
        Ok((bytes, artifact))
    }
}

/// Now as RFC 3339 UTC, seconds.
fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_a_scheme_a_port_and_a_nested_repository() {
        let r: Reference = "http://127.0.0.1:5000/acme/pressure-rule:0.1.0".parse().expect("parses");
        assert_eq!(
            r,
            Reference {
                base: "http://127.0.0.1:5000".into(),
                repository: "acme/pressure-rule".into(),
                tag: "0.1.0".into()
            }
        );
        let r: Reference = "ghcr.io/acme/rule:v1".parse().expect("parses");
        assert_eq!(r.base, "https://ghcr.io");
        for bad in ["ftp://h/r:t", "host-only", "h/r", "h/Upper:t", "h/r:", "h//r:t"] {
            assert!(bad.parse::<Reference>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_clock_is_rfc3339() {
        let now = chrono_now();
        assert_eq!((now.len(), &now[4..5], &now[10..11], &now[19..]), (20, "-", "T", "Z"), "{now}");
        assert!(now.starts_with("20"), "{now}");
    }
}
