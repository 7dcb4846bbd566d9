//! The local gateway: one HTTP server that routes like API Gateway's HTTP API — the routes of
//! the template, a payload 2.0 event per request (path parameters, query, headers, cookies,
//! body, request context with source IP and request id) handed to the function through
//! lambda_http's own adapter, as in Lambda — plus the browser UI at `/` and the local-only
//! controls under `/_local/` (never part of a Lambda binary).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service, service_fn};
use serde_json::{Value, json};
use shared::domain::time;
use shared::{ApiError, App};

use crate::functions::{self, Handler};
use crate::scheduler::Scheduler;
use crate::template::{Route, Template};

/// API Gateway HTTP APIs accept payloads up to 10 MB; the functions apply their own 16 KiB.
const GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;

pub struct Local {
    pub app: Arc<App>,
    pub routes: Vec<(Route, Handler)>,
    pub scheduler: Arc<Scheduler>,
}

impl Local {
    /// The routes of every function in the template, most specific first, as API Gateway picks
    /// them: literal paths, then paths with parameters, then greedy `{proxy+}` paths.
    pub fn new(app: Arc<App>, template: &Template, scheduler: Arc<Scheduler>) -> Result<Self, String> {
        let mut routes = Vec::new();
        for f in &template.functions {
            for route in &f.routes {
                let handler = functions::find(&f.dir).ok_or_else(|| format!("no crate for {}", f.code_uri))?;
                routes.push((route.clone(), handler));
            }
        }
        routes.sort_by_key(|(r, _)| {
            (r.path.contains("+}"), r.path.matches('{').count(), std::cmp::Reverse(r.path.len()))
        });
        Ok(Self { app, routes, scheduler })
    }
}

pub fn router(local: Arc<Local>) -> Router {
    Router::new()
        .route("/_local/clock", get(get_clock).post(set_clock))
        .route("/_local/run/{schedule}", post(run_schedule))
        .route("/_local/schedules", get(schedules))
        .fallback(gateway)
        .with_state(local)
}

/// Serves `router` on `listener` with the peer address available for the request context.
pub async fn serve(listener: tokio::net::TcpListener, local: Arc<Local>) -> Result<(), String> {
    axum::serve(listener, router(local).into_make_service_with_connect_info::<SocketAddr>())
        .await
        .map_err(|e| format!("server: {e}"))
}

fn error(e: &ApiError) -> Response {
    let mut response =
        (e.status(), [("content-type", "application/json; charset=utf-8")], e.body().to_string()).into_response();
    if let Some(allow) = e.allow().and_then(|a| HeaderValue::from_str(a).ok()) {
        response.headers_mut().insert("allow", allow);
    }
    response
}

async fn gateway(
    State(local): State<Arc<Local>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: AxumBody,
) -> Response {
    let path = uri.path().to_owned();
    // HEAD is answered as GET, without the body.
    let head = method == Method::HEAD;
    let as_method = if head { Method::GET } else { method.clone() };
    let matched = local.routes.iter().find_map(|(route, handler)| {
        (route.method == as_method.as_str())
            .then(|| match_path(&route.path, &path))
            .flatten()
            .map(|params| (route, *handler, params))
    });
    let Some((route, handler, params)) = matched else {
        // The methods of the most specific routes that match: the most literal segments (a greedy
        // `{proxy+}` route counts least), as API Gateway ranks them.
        let specificity =
            |r: &Route| (!r.path.contains("+}"), r.path.split('/').filter(|seg| !seg.starts_with('{')).count());
        let matching: Vec<&Route> =
            local.routes.iter().map(|(r, _)| r).filter(|r| match_path(&r.path, &path).is_some()).collect();
        let best = matching.iter().map(|r| specificity(r)).max();
        let mut allowed: Vec<&str> =
            matching.iter().filter(|r| Some(specificity(r)) == best).map(|r| r.method.as_str()).collect();
        allowed.sort_unstable();
        allowed.dedup();
        return error(&if allowed.is_empty() {
            ApiError::NotFound
        } else {
            ApiError::MethodNotAllowed { allow: allowed.join(", ") }
        });
    };
    let Handler::Http(handler) = handler else {
        return error(&ApiError::NotFound);
    };
    let body = match axum::body::to_bytes(body, GATEWAY_BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return error(&ApiError::PayloadTooLarge),
    };
    let event = event(route, &as_method, &uri, &headers, &body, params, peer, local.app.clock.now());
    match invoke_http(&local.app, handler, event).await {
        Ok(v) if head => {
            let mut response = lambda_response(&v);
            *response.body_mut() = AxumBody::empty();
            response
        }
        Ok(v) => lambda_response(&v),
        Err(e) => {
            tracing::error!(error = %e, "gateway");
            error(&ApiError::Internal(e))
        }
    }
}

/// Matches a template path (`/api/proxy-targets/{account}`, `/{proxy+}`) against a request path.
pub fn match_path(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let t: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let Some(name) = t.last().and_then(|s| s.strip_prefix('{')).and_then(|s| s.strip_suffix("+}")) {
        // Greedy: the literal prefix, then one or more segments.
        let prefix = t.len() - 1;
        if p.len() <= prefix || p.get(prefix).is_some_and(|s| s.is_empty()) {
            return None;
        }
        let mut params =
            match_path(&format!("/{}", t.get(..prefix)?.join("/")), &format!("/{}", p.get(..prefix)?.join("/")))?;
        params.push((name.to_owned(), percent_decode(&p.get(prefix..)?.join("/"))));
        return Some(params);
    }
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (ts, ps) in t.iter().zip(p.iter()) {
        match ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !ps.is_empty() => params.push((name.to_owned(), percent_decode(ps))),
            Some(_) => return None,
            None if ts == ps => {}
            None => return None,
        }
    }
    Some(params)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The payload 2.0 event API Gateway would send for this request.
#[allow(clippy::too_many_arguments)]
pub fn event(
    route: &Route,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
    params: Vec<(String, String)>,
    peer: SocketAddr,
    now: DateTime<Utc>,
) -> Value {
    let mut header_map = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        let entry = header_map.entry(name.as_str().to_owned()).or_insert_with(|| json!(""));
        *entry = match entry.as_str() {
            Some("") => json!(value),
            Some(prev) => json!(format!("{prev},{value}")),
            None => json!(value),
        };
    }
    let query = uri.query().unwrap_or_default();
    let mut query_params = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query_params.insert(percent_decode(k), json!(percent_decode(v)));
    }
    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (json!(text), false),
        Err(_) => (json!(base64::engine::general_purpose::STANDARD.encode(body)), true),
    };
    let route_key = format!("{} {}", route.method, route.path);
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": uri.path(),
        "rawQueryString": query,
        "cookies": if cookies.is_empty() { Value::Null } else { json!(cookies) },
        "headers": header_map,
        "queryStringParameters": if query_params.is_empty() { Value::Null } else { Value::Object(query_params) },
        "pathParameters": if params.is_empty() { Value::Null } else { Value::Object(params.into_iter().map(|(k, v)| (k, json!(v))).collect()) },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": headers.get("user-agent").and_then(|h| h.to_str().ok()).unwrap_or_default(),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// Runs an API function on a payload 2.0 event exactly as `lambda_http::run` would, and returns
/// the Lambda response as JSON (`statusCode`, `headers`, `body`, `isBase64Encoded`, `cookies`).
pub async fn invoke_http(app: &Arc<App>, handler: functions::HttpHandler, event: Value) -> Result<Value, String> {
    let payload: LambdaRequest = serde_json::from_value(event).map_err(|e| format!("not an HTTP API event: {e}"))?;
    let app = app.clone();
    let service = service_fn(move |req: lambda_http::Request| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(handler(&app, req).await) }
    });
    let mut adapter = Adapter::from(service);
    let response =
        adapter.call(LambdaEvent::new(payload, Context::default())).await.map_err(|e| format!("handler: {e:?}"))?;
    serde_json::to_value(&response).map_err(|e| format!("response: {e}"))
}

/// Turns a Lambda HTTP API response back into HTTP, as API Gateway does.
pub fn lambda_response(v: &Value) -> Response {
    let status = v["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(u16::try_from(s).ok()?).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match (v["body"].as_str(), v["isBase64Encoded"].as_bool()) {
        (Some(b), Some(true)) => base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_default(),
        (Some(b), _) => b.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    };
    let mut response = Response::new(AxumBody::from(body));
    *response.status_mut() = status;
    if let Some(headers) = v["headers"].as_object() {
        for (k, val) in headers {
            if let (Ok(name), Some(Ok(value))) =
                (HeaderName::try_from(k.as_str()), val.as_str().map(HeaderValue::from_str))
            {
                response.headers_mut().append(name, value);
            }
        }
    }
    if let Some(cookies) = v["cookies"].as_array() {
        for c in cookies.iter().filter_map(Value::as_str) {
            if let Ok(value) = HeaderValue::from_str(c) {
                response.headers_mut().append("set-cookie", value);
            }
        }
    }
    response
}

// ---------------------------------------------------------------- local-only controls

async fn get_clock(State(local): State<Arc<Local>>) -> Response {
    clock_json(&local.app)
}

fn clock_json(app: &App) -> Response {
    let now = app.clock.now();
    axum::Json(json!({ "now": time::rfc3339(now), "fixed": app.clock.is_fixed() })).into_response()
}

/// `{"now": RFC 3339}` fixes the clock every function and schedule sees; `{"now": null}` returns
/// to the real clock.
async fn set_clock(State(local): State<Arc<Local>>, body: Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let now = match parsed.as_ref().map(|v| v.get("now")) {
        Ok(Some(Value::Null)) => None,
        Ok(Some(Value::String(s))) => match time::parse_stamp(s) {
            Some(t) => Some(t),
            None => {
                return error(&ApiError::BadRequest(format!("now: not an RFC 3339 time: {s}")));
            }
        },
        _ => {
            return error(&ApiError::BadRequest("expected {\"now\": RFC 3339 time or null}".into()));
        }
    };
    local.app.clock.set(now);
    local.scheduler.wake();
    clock_json(&local.app)
}

/// Runs a schedule now. A JSON object body adds to its event (e.g. `{"item_budget": 30}`).
async fn run_schedule(State(local): State<Arc<Local>>, UrlPath(schedule): UrlPath<String>, body: Bytes) -> Response {
    let extra = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        _ if body.iter().all(u8::is_ascii_whitespace) => serde_json::Map::new(),
        _ => return error(&ApiError::BadRequest("expected a JSON object or nothing".into())),
    };
    match local.scheduler.run_now(&local.app, &schedule, extra).await {
        Some(Ok(summary)) => axum::Json(summary).into_response(),
        Some(Err(e)) => {
            if let ApiError::Internal(detail) = &e {
                tracing::error!(schedule = %schedule, detail = %detail, "scheduled run failed");
            }
            error(&e)
        }
        None => error(&ApiError::NotFound),
    }
}

async fn schedules(State(local): State<Arc<Local>>) -> Response {
    axum::Json(local.scheduler.status()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_with_parameters() {
        assert_eq!(match_path("/api/me", "/api/me"), Some(vec![]));
        assert_eq!(match_path("/api/me", "/api/me/x"), None);
        assert_eq!(
            match_path("/api/proxy-targets/{account}", "/api/proxy-targets/0000000006"),
            Some(vec![("account".into(), "0000000006".into())])
        );
        assert_eq!(match_path("/api/proxy-targets/{account}", "/api/proxy-targets/"), None);
        assert_eq!(match_path("/{proxy+}", "/app.js"), Some(vec![("proxy".into(), "app.js".into())]));
        assert_eq!(match_path("/{proxy+}", "/a/b.css"), Some(vec![("proxy".into(), "a/b.css".into())]));
        assert_eq!(match_path("/{proxy+}", "/"), None);
        assert_eq!(match_path("/", "/"), Some(vec![]));
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
    }
}
