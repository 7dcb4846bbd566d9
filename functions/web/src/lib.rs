//! `GET /` and `GET /{file}` — the browser UI (`web/`, one folder of files, embedded at build
//! time) with a strict Content-Security-Policy and the other security headers. The route takes one
//! path segment only, so it never answers for a path of the API.

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::edge::http::respond;
use shared::{ApiError, App, Ctx};

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// The security headers of every UI response.
pub const SECURITY_HEADERS: [(&str, &str); 7] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
    ("cross-origin-opener-policy", "same-origin"),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
];

/// The local runner's entry.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    answer(app.ctx(&req), &req)
}

/// The Lambda's entry: nothing built at cold start, only the embedded files.
pub async fn serve(req: Request) -> Response<Body> {
    answer(Ctx::at(chrono::Utc::now(), &req), &req)
}

fn answer(ctx: Ctx, req: &Request) -> Response<Body> {
    let path = req.uri().path().trim_start_matches('/');
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(&ctx, Err(ApiError::MethodNotAllowed { allow: "GET".into() }));
    }
    let wanted = if path.is_empty() { "index.html" } else { path };
    match FILES.iter().find(|(name, _)| *name == wanted) {
        Some((name, bytes)) if !wanted.starts_with("api/") => {
            let ty = content_type(name);
            let mut response = Response::new(body_of(ty, bytes));
            *response.status_mut() = StatusCode::OK;
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ty));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            for (k, v) in SECURITY_HEADERS {
                headers.insert(k, HeaderValue::from_static(v));
            }
            shared::edge::http::log_request(&ctx, 200, None);
            response
        }
        _ => respond(&ctx, Err(ApiError::NotFound)),
    }
}

/// Text files (by their content type `ty`) as text, the rest as bytes: Lambda sends bytes
/// base64-encoded, text as it is.
fn body_of(ty: &str, bytes: &[u8]) -> Body {
    let textual = ty.starts_with("text/") || ty.starts_with("application/json") || ty.starts_with("image/svg+xml");
    match std::str::from_utf8(bytes) {
        Ok(text) if textual => Body::Text(text.to_owned()),
        _ => Body::Binary(bytes.to_vec()),
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_is_embedded() {
        let names: Vec<_> = FILES.iter().map(|(n, _)| *n).collect();
        for wanted in ["index.html", "app.js", "i18n.js", "style.css"] {
            assert!(names.contains(&wanted), "{wanted} in {names:?}");
        }
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
    }

    #[test]
    fn text_files_go_as_text_and_the_rest_as_bytes() {
        for (name, bytes) in FILES {
            match body_of(content_type(name), bytes) {
                Body::Text(text) => assert_eq!(text.as_bytes(), *bytes, "{name}"),
                other => panic!("{name} should be sent as text, not {other:?}"),
            }
        }
        assert!(matches!(body_of(content_type("logo.png"), b"\x89PNG\r\n"), Body::Binary(b) if b == b"\x89PNG\r\n"));
        // A file that claims to be text but is not UTF-8 goes as bytes, unchanged.
        assert!(matches!(body_of("text/plain; charset=utf-8", &[0x82, 0xa0]), Body::Binary(b) if b == [0x82, 0xa0]));
    }
}
