//! The web UI of trawl: a Preact application in `web/`, built by `build.rs` with Vite and
//! embedded in the binary. [`router`] serves it: the built files at their own paths, and
//! `index.html` for every page path, all with a strict Content-Security-Policy.
//!
//! The UI talks to the server only through the public HTTP API (`/api/v1/...`).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One built file.
pub(crate) struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The same body gzip-compressed, when that is smaller.
    pub gzip: Option<&'static [u8]>,
    /// Content-hashed name: cacheable forever.
    pub immutable: bool,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The policy of every UI response: only this origin's scripts, styles, images and
/// connections; no inline script or style, no `eval`, no framing. Log content is data: the UI
/// never turns it into HTML, and this policy would block it if it did.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'; object-src 'none'";

/// The page paths of the single-page application; each answers `index.html`.
pub const PAGE_PATHS: [&str; 18] = [
    "/", "/search", "/trace/{*id}", "/services", "/services/{*name}", "/why", "/map", "/tail", "/trace",
    // Alerting.
    "/alerts", "/alerts/{*fingerprint}", "/rules", "/rules/{*name}", "/contact-points", "/policies", "/silences", "/notifications",
    "/privacy",
];

/// The UI's routes, to be merged into the API router (no path overlaps `/api`, `/v1` or the
/// health and metrics paths).
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut router = Router::new();
    for path in PAGE_PATHS {
        router = router.route(path, get(index));
    }
    for asset in ASSETS.iter().filter(|a| a.path != "/index.html") {
        router = router.route(asset.path, get(move |headers: HeaderMap| async move { serve(asset, &headers) }));
    }
    router
}

/// The total size of the built files, and of what a browser downloads with gzip.
pub fn bundle_size() -> (usize, usize) {
    ASSETS.iter().fold((0, 0), |(raw, gz), a| (raw + a.body.len(), gz + a.gzip.map_or(a.body.len(), <[u8]>::len)))
}

async fn index(headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.path == "/index.html") {
        Some(asset) => serve(asset, &headers),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "the web UI was built without index.html").into_response(),
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim().replace(' ', "").as_str(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let (body, gzipped) = match asset.gzip {
        Some(gz) if accepts_gzip(headers) => (gz, true),
        _ => (asset.body, false),
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset.immutable { "public, max-age=31536000, immutable" } else { "no-cache" }),
    );
    if asset.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, gzip: bool) -> Response {
        let mut request = Request::get(path);
        if gzip {
            request = request.header(header::ACCEPT_ENCODING, "gzip, deflate, br");
        }
        router::<()>().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    fn header_of<'a>(response: &'a Response, name: &str) -> &'a str {
        response.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    #[tokio::test]
    async fn every_page_path_serves_the_index_with_the_policy() {
        for path in [
            "/", "/search", "/trace/4bf92f3577b34da6a3ce929d0e0e4736", "/services", "/services/payment", "/why", "/map", "/tail",
            "/alerts", "/alerts/5f3a9c0e12ab34cd", "/rules", "/rules/new", "/rules/service%20error%20rate/edit", "/contact-points",
            "/policies", "/silences", "/notifications", "/privacy",
        ] {
            let response = get(path, false).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&response, "content-type"), "text/html; charset=utf-8", "{path}");
            assert_eq!(header_of(&response, "content-security-policy"), CONTENT_SECURITY_POLICY);
            assert_eq!(header_of(&response, "x-content-type-options"), "nosniff");
            assert_eq!(header_of(&response, "cache-control"), "no-cache");
            assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
            assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        }
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable_and_gzipped_on_request() {
        let Some(asset) = ASSETS.iter().find(|a| a.path.ends_with(".js")) else {
            return; // built with TRAWL_UI_SKIP_BUILD
        };
        let plain = get(asset.path, false).await;
        assert_eq!(plain.status(), StatusCode::OK);
        assert_eq!(header_of(&plain, "content-type"), "text/javascript; charset=utf-8");
        assert!(header_of(&plain, "cache-control").contains("immutable"));
        assert_eq!(header_of(&plain, "content-encoding"), "");
        let gzipped = get(asset.path, true).await;
        assert_eq!(header_of(&gzipped, "content-encoding"), "gzip");
        let body = axum::body::to_bytes(gzipped.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..2], &[0x1f, 0x8b]);
    }

    #[tokio::test]
    async fn unknown_paths_are_left_to_the_api() {
        assert_eq!(get("/nope", false).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/assets/missing.js", false).await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn gzip_acceptance_reads_q_values() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br;q=1, gzip;q=0"));
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("deflate, GZIP;q=0.5"));
        assert!(accepts_gzip(&h));
    }
}
