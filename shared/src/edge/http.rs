//! The HTTP edge shared by every API function: body parsing (16 KiB, strict JSON), the caller
//! from the bearer token, and the response with its status, security headers and one JSON log line
//! per request (request id, route, status, latency — never a body, password, token or key).

use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::App;
use crate::ctx::Ctx;
use crate::domain::account::{Account, Holder, Realm, WorkshopAccount};
use crate::edge::auth::Claims;
use crate::error::ApiError;
use crate::store::services::ServiceRecord;
use crate::store::settings::{RemoteAccessCount, settings_key};
use crate::store::{Item, accounts};

/// SPEC §3: bodies over 16 KiB get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// More headers: a cookie, a redirect's `Location`.
    pub headers: Vec<(http::HeaderName, HeaderValue)>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self { status: StatusCode::OK, body, headers: Vec::new() }
    }

    pub fn created(body: Value) -> Self {
        Self { status: StatusCode::CREATED, body, headers: Vec::new() }
    }

    pub fn accepted(body: Value) -> Self {
        Self { status: StatusCode::ACCEPTED, body, headers: Vec::new() }
    }

    /// 303 See Other to `location` (a browser coming back from the identity provider).
    pub fn see_other(location: &str) -> Result<Self, ApiError> {
        let value = HeaderValue::from_str(location).map_err(|e| ApiError::Internal(format!("location: {e}")))?;
        Ok(Self {
            status: StatusCode::SEE_OTHER,
            body: serde_json::json!({ "location": location }),
            headers: vec![(http::header::LOCATION, value)],
        })
    }

    pub fn with_header(mut self, name: http::HeaderName, value: &str) -> Result<Self, ApiError> {
        let value = HeaderValue::from_str(value).map_err(|e| ApiError::Internal(format!("header: {e}")))?;
        self.headers.push((name, value));
        Ok(self)
    }
}

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether the request is a browser's navigation (it accepts HTML) rather than an API call.
pub fn wants_html(req: &Request) -> bool {
    req.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// A query-string parameter, as sent.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
}

/// Parses the JSON body into `T` (which denies unknown fields): 413 over 16 KiB, 400
/// `bad_request` with serde's reason for bad JSON, wrong types, unknown or missing fields.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("a JSON body is required".into()));
    }
    let value = crate::edge::json::from_slice_unique(bytes).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // serde would read a struct from an array too; the API takes objects only.
    if !value.is_object() {
        return Err(ApiError::BadRequest("invalid type: expected a JSON object".into()));
    }
    serde_json::from_value(value).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Refuses a body where none is expected (a GET with a body is a client mistake worth saying).
pub fn no_body(req: &Request) -> Result<(), ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES { Err(ApiError::PayloadTooLarge) } else { Ok(()) }
}

/// A path parameter as typed: NFKC and trimmed (SPEC §3), so `/api/proxy-targets/１０００…`
/// finds the account.
pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref().and_then(|p| p.first(name)).map(crate::domain::typed::identifier)
}

/// Verifies the bearer token (R-LOGIN-1). The subject comes from the token only.
pub fn claims(app: &App, ctx: &Ctx, req: &Request) -> Result<Claims, ApiError> {
    let header = req.headers().get(http::header::AUTHORIZATION).ok_or(ApiError::Unauthorized)?;
    let value = header.to_str().map_err(|_| ApiError::Unauthorized)?;
    let token =
        value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or(ApiError::Unauthorized)?;
    app.keys.verify(&app.tokens, token.trim(), ctx.now)
}

/// Whether the token's account still accepts it: usable today (not revoked, expired or locked)
/// and with the credentials the token was issued for (R-CRED-1, R-SEC-4).
fn admits(holder: &Holder, claims: &Claims, ctx: &Ctx) -> bool {
    holder.is_usable(ctx.today()) && holder.credentials_version() == claims.cv
}

/// The token's account, read now: a revoked, expired or locked account's old token, or one
/// issued before its credentials changed, stops working at once (401), whatever its remaining
/// lifetime.
pub async fn caller(app: &App, ctx: &Ctx, req: &Request) -> Result<Holder, ApiError> {
    holder_of(app, ctx, &claims(app, ctx, req)?).await
}

/// [`caller`] for a token already verified ([`claims`]).
async fn holder_of(app: &App, ctx: &Ctx, claims: &Claims) -> Result<Holder, ApiError> {
    match app.store.holder(claims.realm, &claims.sub).await? {
        Some(holder) if admits(&holder, claims, ctx) => Ok(holder),
        _ => Err(ApiError::Unauthorized),
    }
}

/// A UTokyo caller and other items read with it in one call (`(table, key)`, in order): the
/// typed reads below are built on it.
async fn utokyo_caller_with(
    app: &App,
    ctx: &Ctx,
    claims: &Claims,
    extra: &[(&str, Item)],
) -> Result<(Account, Vec<Option<Item>>), ApiError> {
    let (holder, items) = app.store.holder_with(claims.realm, &claims.sub, extra).await?;
    match holder {
        Some(h) if admits(&h, claims, ctx) => match h {
            Holder::Utokyo(a) => Ok((*a, items)),
            Holder::Workshop(_) => Err(ApiError::RealmNotAllowed),
        },
        _ => Err(ApiError::Unauthorized),
    }
}

/// A UTokyo caller and the remote-access counter, in one read.
pub async fn utokyo_caller_and_count(
    app: &App,
    ctx: &Ctx,
    req: &Request,
) -> Result<(Account, RemoteAccessCount), ApiError> {
    let claims = claims(app, ctx, req)?;
    let settings = [(app.store.tables.settings.as_str(), settings_key())];
    let (account, items) = utokyo_caller_with(app, ctx, &claims, &settings).await?;
    Ok((account, RemoteAccessCount::from_item(items.first().and_then(Option::as_ref))))
}

/// A UTokyo caller of a verified token ([`claims`]) and their record of `service`, in one read
/// (the token's subject's; given only once the account checks out).
pub async fn utokyo_caller_and_service(
    app: &App,
    ctx: &Ctx,
    claims: &Claims,
    service: &str,
) -> Result<(Account, Option<ServiceRecord>), ApiError> {
    let services = [(app.store.tables.services.as_str(), ServiceRecord::key_of(&claims.sub, service))];
    let (account, mut items) = utokyo_caller_with(app, ctx, claims, &services).await?;
    Ok((account, ServiceRecord::from_read(items.pop().flatten())?))
}

/// A UTokyo caller and the UTokyo account `id`, in one read; a malformed id is not looked up.
pub async fn utokyo_caller_and_account(
    app: &App,
    ctx: &Ctx,
    req: &Request,
    id: &str,
) -> Result<(Account, Option<Account>), ApiError> {
    let (account, item) = utokyo_caller_and_item(app, ctx, &claims(app, ctx, req)?, id).await?;
    Ok((account, utokyo_account(item)?))
}

/// A UTokyo caller and the item of the UTokyo account `id` (not read for a malformed id), in one
/// read, not yet parsed.
async fn utokyo_caller_and_item(
    app: &App,
    ctx: &Ctx,
    claims: &Claims,
    id: &str,
) -> Result<(Account, Option<Item>), ApiError> {
    let extra: Vec<(&str, Item)> = if Realm::Utokyo.is_valid_id(id) {
        vec![(app.store.tables.accounts.as_str(), accounts::key(Realm::Utokyo, id))]
    } else {
        vec![]
    };
    let (account, items) = utokyo_caller_with(app, ctx, claims, &extra).await?;
    Ok((account, items.into_iter().next().flatten()))
}

fn utokyo_account(item: Option<Item>) -> Result<Option<Account>, ApiError> {
    Ok(match item.map(accounts::holder_from_item).transpose()? {
        Some(Holder::Utokyo(a)) => Some(*a),
        _ => None,
    })
}

/// A UTokyo caller; a workshop token gets 403 `realm_not_allowed` (after the account is read, so
/// that a revoked or expired account gets its 401 everywhere).
pub async fn utokyo_caller(app: &App, ctx: &Ctx, req: &Request) -> Result<Account, ApiError> {
    utokyo_caller_of(app, ctx, &claims(app, ctx, req)?).await
}

/// [`utokyo_caller`] for a token already verified ([`claims`]).
pub async fn utokyo_caller_of(app: &App, ctx: &Ctx, claims: &Claims) -> Result<Account, ApiError> {
    match holder_of(app, ctx, claims).await? {
        Holder::Utokyo(a) => Ok(*a),
        Holder::Workshop(_) => Err(ApiError::RealmNotAllowed),
    }
}

/// A help-desk operator (403 `operator_required` for anyone else, a workshop account included:
/// the API table's one refusal for these routes).
pub async fn operator(app: &App, ctx: &Ctx, req: &Request) -> Result<Account, ApiError> {
    operator_only(utokyo_caller(app, ctx, req).await.map(|a| (a, ()))).map(|(a, ())| a)
}

/// [`operator`] for a token already verified ([`claims`]), and the UTokyo account `id`, in one
/// read; the account is given to an operator only (`None` where there is none, or the id is
/// malformed), and is parsed only then: anyone else gets the 403 whatever the item holds.
pub async fn operator_and_account(
    app: &App,
    ctx: &Ctx,
    claims: &Claims,
    id: &str,
) -> Result<(Account, Option<Account>), ApiError> {
    let (operator, item) = operator_only(utokyo_caller_and_item(app, ctx, claims, id).await)?;
    Ok((operator, utokyo_account(item)?))
}

/// [`operator`] and the remote-access counter, in one read.
pub async fn operator_and_count(app: &App, ctx: &Ctx, req: &Request) -> Result<(Account, RemoteAccessCount), ApiError> {
    operator_only(utokyo_caller_and_count(app, ctx, req).await)
}

/// A UTokyo caller's read, kept for an operator; `operator_required` for anyone else.
fn operator_only<T>(read: Result<(Account, T), ApiError>) -> Result<(Account, T), ApiError> {
    match read {
        Ok((account, rest)) if account.is_operator() => Ok((account, rest)),
        Ok(_) | Err(ApiError::RealmNotAllowed) => Err(ApiError::OperatorRequired),
        Err(e) => Err(e),
    }
}

/// A workshop caller; a UTokyo token gets 403 `realm_not_allowed`.
pub async fn workshop_caller(app: &App, ctx: &Ctx, req: &Request) -> Result<WorkshopAccount, ApiError> {
    match caller(app, ctx, req).await? {
        Holder::Workshop(w) => Ok(w),
        Holder::Utokyo(_) => Err(ApiError::RealmNotAllowed),
    }
}

/// 405 for a method the function does not serve.
pub fn method_not_allowed(req: &Request, allowed: &[Method]) -> Result<Reply, ApiError> {
    if allowed.contains(req.method()) {
        Err(ApiError::NotFound)
    } else {
        Err(ApiError::MethodNotAllowed { allow: allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ") })
    }
}

/// The one log line of a request: request id, route, status, latency, error code.
pub fn log_request(ctx: &Ctx, status: u16, error: Option<&str>) {
    let latency_ms = ctx.started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        request_id = %ctx.request_id,
        route = %ctx.route,
        status,
        latency_ms = (latency_ms * 10.0).round() / 10.0,
        error,
        "request"
    );
}

/// For a refusal a browser is redirected with (a 303 that carries `?error=…`): what
/// [`respond`] would have logged of it, so that operators see a fault the person only sees as a
/// sentence (R-SEC-5).
pub fn log_redirected_refusal(ctx: &Ctx, e: &ApiError) {
    if let ApiError::Internal(detail) = e {
        tracing::error!(request_id = %ctx.request_id, route = %ctx.route, detail = %detail, "internal error");
    }
    tracing::info!(request_id = %ctx.request_id, route = %ctx.route, status = e.status().as_u16(), error = e.code(), reason = %e.reason(), "refused; the browser is sent back with the reason");
}

/// Renders the outcome and writes the request's log line.
pub fn respond(ctx: &Ctx, outcome: Result<Reply, ApiError>) -> Response<Body> {
    let mut extra = Vec::new();
    let (status, body, error) = match outcome {
        Ok(reply) => {
            extra = reply.headers;
            (reply.status, reply.body, None)
        }
        Err(e) => {
            if let ApiError::Internal(detail) = &e {
                tracing::error!(request_id = %ctx.request_id, route = %ctx.route, detail = %detail, "internal error");
            }
            (e.status(), e.body(), Some(e))
        }
    };
    log_request(ctx, status.as_u16(), error.as_ref().map(ApiError::code));
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-request-id", HeaderValue::from_str(&ctx.request_id).unwrap_or(HeaderValue::from_static("-")));
    if let Some(allow) = error.as_ref().and_then(ApiError::allow).and_then(|a| HeaderValue::from_str(a).ok()) {
        headers.insert(http::header::ALLOW, allow);
    }
    for (name, value) in extra {
        headers.append(name, value);
    }
    if let Some(seconds) = error.as_ref().and_then(ApiError::retry_after) {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
/// The body of the `POST …/accept` and `POST …/confirm` requests a landing page sends.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    pub token: String,
}
