//! The operator console: a small web app served at `/` from files inside
//! the binary (`host/api/console/`), no build step and no request leaving
//! the host.
//!
//! The console is static: it calls the same `/api` as any client, with the
//! bearer token of its login, so roles are enforced by the API whatever the
//! page shows. Each file is answered with its content type, a strong ETag
//! (`If-None-Match` gives 304), gzip when the client accepts it (compressed
//! once, on first use) and a Content-Security-Policy that allows nothing but
//! this host.
//!
//! For work on the console itself, `NEXUS_CONSOLE_DIR=host/api/console`
//! serves the same files from that directory, read on every request, so an
//! edit shows on reload without rebuilding.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;

/// Nothing but this host: scripts and styles are files of the console,
/// data comes from `/api`.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// One file of the console.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:literal) => {
        Asset { path: $path, content_type: $type, bytes: include_bytes!(concat!("../console/", $path)) }
    };
}

/// Every file the console is made of.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("js/api.js", "text/javascript; charset=utf-8"),
    asset!("js/app.js", "text/javascript; charset=utf-8"),
    asset!("js/ui.js", "text/javascript; charset=utf-8"),
    asset!("js/map.js", "text/javascript; charset=utf-8"),
    asset!("js/well.js", "text/javascript; charset=utf-8"),
    asset!("js/alarms.js", "text/javascript; charset=utf-8"),
    asset!("js/recommendations.js", "text/javascript; charset=utf-8"),
    asset!("js/plugins.js", "text/javascript; charset=utf-8"),
    asset!("js/health.js", "text/javascript; charset=utf-8"),
    asset!("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    asset!("vendor/uPlot.min.css", "text/css; charset=utf-8"),
];

/// An asset with what is computed once: its ETag and gzip body.
struct Prepared {
    etag: HeaderValue,
    gzip: Vec<u8>,
}

fn prepared() -> &'static [Prepared] {
    static PREPARED: OnceLock<Vec<Prepared>> = OnceLock::new();
    PREPARED.get_or_init(|| ASSETS.iter().map(|a| Prepared { etag: etag(a.bytes), gzip: gzip(a.bytes) }).collect())
}

/// FNV-1a over the bytes: the files change only with the binary.
fn etag(bytes: &[u8]) -> HeaderValue {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    HeaderValue::from_str(&format!("\"{hash:016x}-{}\"", bytes.len())).expect("hex is a header value")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    encoder.write_all(bytes).and_then(|()| encoder.finish()).unwrap_or_default()
}

/// The console's routes: `/` (the page) and `/console/{*file}`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(|headers: HeaderMap| async move { serve("index.html", &headers) })).route(
        "/console/{*file}",
        get(|Path(file): Path<String>, headers: HeaderMap| async move { serve(&file, &headers) }),
    )
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.path == path) else {
        return ApiError::new(StatusCode::NOT_FOUND, "no-route", format!("the console has no file `{path}`"))
            .into_response();
    };
    let (asset, prepared) = (&ASSETS[index], &prepared()[index]);
    if let Some(dir) = std::env::var_os("NEXUS_CONSOLE_DIR") {
        // Only files the console is made of: `path` matched the list.
        return match std::fs::read(std::path::Path::new(&dir).join(asset.path)) {
            Ok(bytes) => ([(header::CONTENT_TYPE, asset.content_type), (header::CACHE_CONTROL, "no-store")], bytes)
                .into_response(),
            Err(error) => {
                ApiError::new(StatusCode::NOT_FOUND, "no-route", format!("{}: {error}", asset.path)).into_response()
            }
        };
    }
    let common = [
        (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
        (header::ETAG, prepared.etag.clone()),
        // Revalidate every time: an unchanged file costs a 304.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::VARY, HeaderValue::from_static("accept-encoding")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    if headers.get(header::IF_NONE_MATCH).is_some_and(|tag| tag == prepared.etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().split(';').next() == Some("gzip")));
    if accepts_gzip && !prepared.gzip.is_empty() {
        let encoding = [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))];
        return (common, encoding, prepared.gzip.clone()).into_response();
    }
    (common, asset.bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_served_and_gzip_inflates_to_it() {
        use std::io::Read as _;
        for (asset, prepared) in ASSETS.iter().zip(prepared()) {
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.path);
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(&prepared.gzip[..]).read_to_end(&mut inflated).expect("gzip");
            assert_eq!(inflated, asset.bytes, "{}", asset.path);
        }
    }

    #[test]
    fn no_file_loads_anything_from_another_host() {
        for asset in ASSETS.iter().filter(|a| !a.path.starts_with("vendor/")) {
            // The SVG namespace is a name, not an address anything loads.
            let text = std::str::from_utf8(asset.bytes).expect("utf-8").replace("http://www.w3.org/2000/svg", "");
            assert!(!text.contains("http://") && !text.contains("https://"), "{} names another host", asset.path);
        }
    }

    #[test]
    fn a_matching_etag_is_a_304_and_an_unknown_file_a_404() {
        let mut headers = HeaderMap::new();
        let first = serve("index.html", &headers);
        assert_eq!(first.status(), StatusCode::OK);
        headers.insert(header::IF_NONE_MATCH, first.headers()[header::ETAG].clone());
        assert_eq!(serve("index.html", &headers).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve("js/nope.js", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }
}
