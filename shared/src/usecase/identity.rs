//! R-CRED-4, the two legs of an OpenID Connect sign-in at the identity verification provider,
//! shared by the link and the reset:
//!
//! 1. [`start`]: the authorization request (PKCE, `state`, `nonce`) is kept as a flow in the
//!    store, and the browser gets a random flow cookie (HttpOnly, SameSite=Lax, 10 minutes)
//!    whose hash the flow keeps: a callback in another browser — a link someone was tricked into
//!    opening — is refused.
//! 2. [`complete`]: the provider's redirect back. The flow of `state` is taken (once), the cookie
//!    and the `iss` parameter (RFC 9207) checked, the code exchanged and the ID token verified.

use chrono::{DateTime, Duration, Utc};

use crate::ctx::Ctx;
use crate::domain::secret;
use crate::edge::oidc::{Identity, Provider};
use crate::error::ApiError;
use crate::store::identity::{FLOW_MINUTES, Flow, Purpose};
use crate::usecase::Deps;

/// The flow cookie's name.
pub const FLOW_COOKIE: &str = "eccs_oidc";

/// What [`start`] answers: where to send the browser, and the cookie to set.
pub struct Started {
    pub authorization_url: String,
    pub expires_at: DateTime<Utc>,
    pub set_cookie: String,
}

/// The provider, or 503 `identity_provider_not_configured`.
pub fn provider<'a>(deps: &Deps<'a>) -> Result<&'a Provider, ApiError> {
    deps.oidc.ok_or(ApiError::ProviderNotConfigured)
}

/// The callback address registered at the provider for `purpose`.
pub fn redirect_uri(deps: &Deps<'_>, purpose: Purpose) -> String {
    let base = deps.portal_url.trim_end_matches('/');
    match purpose {
        Purpose::Link => format!("{base}/api/identity-link/callback"),
        Purpose::Reset => format!("{base}/api/password-reset/callback"),
    }
}

fn cookie(deps: &Deps<'_>, value: &str, max_age: i64) -> String {
    let secure = if deps.portal_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{FLOW_COOKIE}={value}; Path=/api/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// The cookie that ends the flow in the browser.
pub fn clear_cookie(deps: &Deps<'_>) -> String {
    cookie(deps, "", 0)
}

/// Starts the sign-in that links `account`: the flow keeps the account's credentials version, so
/// that a password change or reset meanwhile (the owner taking a stolen session back) ends it.
pub async fn start(
    deps: &Deps<'_>,
    ctx: &Ctx,
    purpose: Purpose,
    account: &crate::domain::account::Account,
) -> Result<Started, ApiError> {
    begin(deps, ctx, purpose, &account.id, Some(account.credentials_version)).await
}

/// Starts the sign-in of a reset for the account id given (whether it exists is not looked at).
pub async fn start_reset(deps: &Deps<'_>, ctx: &Ctx, account: &str) -> Result<Started, ApiError> {
    begin(deps, ctx, Purpose::Reset, account, None).await
}

async fn begin(
    deps: &Deps<'_>,
    ctx: &Ctx,
    purpose: Purpose,
    account: &str,
    cv: Option<u64>,
) -> Result<Started, ApiError> {
    let provider = provider(deps)?;
    let request = provider.begin(&redirect_uri(deps, purpose)).await?;
    let browser = secret::random_base32(32)?;
    let flow = Flow {
        purpose,
        account: account.to_owned(),
        browser_hash: secret::key_hash(&browser),
        pkce_verifier: request.pkce_verifier,
        nonce: request.nonce,
        cv,
    };
    deps.store.save_flow(&request.state, &flow, ctx.now).await?;
    Ok(Started {
        authorization_url: request.url,
        expires_at: ctx.now + Duration::minutes(FLOW_MINUTES),
        set_cookie: cookie(deps, &browser, FLOW_MINUTES * 60),
    })
}

impl Started {
    /// The start's answer: where to send the browser, and the flow cookie.
    pub fn reply(self) -> Result<crate::edge::http::Reply, ApiError> {
        crate::edge::http::Reply::ok(serde_json::json!({
            "authorization_url": self.authorization_url,
            "expires_at": crate::domain::time::rfc3339(self.expires_at),
        }))
        .with_header(http::header::SET_COOKIE, &self.set_cookie)
    }
}

/// What the provider's redirect brought.
#[derive(Debug, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    /// RFC 9207's `iss`, where the provider sends it.
    pub iss: Option<String>,
    /// The provider's refusal (`access_denied`, …).
    pub error: Option<String>,
    /// The flow cookie.
    pub cookie: Option<String>,
}

impl Callback {
    pub fn from_request(req: &lambda_http::Request) -> Self {
        use crate::edge::http::{cookie, query_param};
        Self {
            state: query_param(req, "state"),
            code: query_param(req, "code"),
            iss: query_param(req, "iss"),
            error: query_param(req, "error"),
            cookie: cookie(req, FLOW_COOKIE),
        }
    }
}

/// The callback's answer, the flow cookie cleared: a browser is sent back to the portal's `page`
/// (`identity-link`) with `query` on success or `error=reason` (and the refusal logged); any other
/// client gets the JSON `reply` or the error.
pub fn answer_callback(
    deps: &Deps<'_>,
    ctx: &Ctx,
    req: &lambda_http::Request,
    page: &str,
    outcome: Result<(String, crate::edge::http::Reply), ApiError>,
) -> Result<crate::edge::http::Reply, ApiError> {
    let clear = clear_cookie(deps);
    if crate::edge::http::wants_html(req) {
        let page = format!("{}/#/{page}", deps.portal_url.trim_end_matches('/'));
        let location = match &outcome {
            Ok((query, _)) => format!("{page}?{query}"),
            Err(e) => {
                crate::edge::http::log_redirected_refusal(ctx, e);
                format!("{page}?error={}", e.reason())
            }
        };
        return crate::edge::http::Reply::see_other(&location)?.with_header(http::header::SET_COOKIE, &clear);
    }
    outcome?.1.with_header(http::header::SET_COOKIE, &clear)
}

/// Completes the sign-in: the flow it belongs to and who signed in.
pub async fn complete(
    deps: &Deps<'_>,
    ctx: &Ctx,
    purpose: Purpose,
    callback: Callback,
) -> Result<(Flow, Identity), ApiError> {
    let provider = provider(deps)?;
    let refused = |reason| ApiError::IdentityRefused { reason };
    let state = callback.state.filter(|s| !s.is_empty() && s.len() <= 512).ok_or(refused("state_missing"))?;
    // Taken first, whatever follows: a `state` works once.
    let flow = deps
        .store
        .take_flow(&state, ctx.now)
        .await?
        .filter(|f| f.purpose == purpose)
        .ok_or(refused("state_unknown_or_used"))?;
    if !callback.cookie.as_deref().is_some_and(|c| secret::key_matches(c, &flow.browser_hash)) {
        return Err(refused("another_browser"));
    }
    if callback.error.is_some() {
        return Err(refused("provider_refused"));
    }
    if callback.iss.as_deref().is_some_and(|iss| iss != provider.issuer()) {
        return Err(refused("issuer_mismatch"));
    }
    let code = callback.code.filter(|c| !c.is_empty() && c.len() <= 2048).ok_or(refused("code_missing"))?;
    let identity = provider.finish(&redirect_uri(deps, purpose), &code, &flow.pkce_verifier, &flow.nonce).await?;
    // The token comes from the provider's own endpoint, but its issuer is checked anyway.
    if identity.issuer != provider.issuer() {
        return Err(refused("issuer_mismatch"));
    }
    Ok((flow, identity))
}
