//! The identity verification link (R-CRED-4), an OpenID Connect sign-in at the provider:
//!
//! - `GET /api/identity-link` — whether the account is linked, to which provider, since when
//! - `POST /api/identity-link/start` `{current_password}` — `{authorization_url, expires_at}`
//!   and the flow cookie; the browser goes to the provider. A link is a way back into the account
//!   (R-CRED-4's reset), so making one needs the current password like every other credential
//!   (R-SEC-1): a stolen session must not link the thief's own provider account.
//!   `GET /api/identity-link/start` does the same for a session signed in within the last five
//!   minutes (the password was just given); an older one gets 400 with the reason
//!   `reauthentication_required`.
//! - `GET /api/identity-link/callback` — the provider's redirect back: the link is made (a
//!   provider account linked to another account is refused). A browser is sent back to the
//!   portal's identity-link page with the result; an API client gets JSON.
//! - `DELETE /api/identity-link` `{current_password}` — removes the link

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::account::Account;
use shared::domain::time;
use shared::edge::http::{
    Reply, claims, json_body, method_not_allowed, no_body, respond, utokyo_caller, utokyo_caller_of,
};
use shared::store::identity::Purpose;
use shared::usecase::identity::{self, Callback};
use shared::usecase::identity_link as links;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reauthentication {
    current_password: String,
}

/// How recent a sign-in lets `GET /api/identity-link/start` go without the password again.
const FRESH_SIGN_IN_SECONDS: i64 = 5 * 60;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let path = req.uri().path().trim_end_matches('/');
    let leg = path.rsplit('/').next().unwrap_or_default();
    match (req.method().clone(), leg) {
        (Method::GET, "identity-link") => {
            no_body(req)?;
            let account = utokyo_caller(app, ctx, req).await?;
            Ok(Reply::ok(json!({
                "linked": account.identity.is_some(),
                "issuer": account.identity.as_ref().map(|l| l.issuer.clone()),
                "linked_at": account.identity.as_ref().map(|l| time::rfc3339(l.linked_at)),
                "provider_configured": app.oidc.is_some(),
            })))
        }
        (Method::DELETE, "identity-link") => {
            let account = utokyo_caller(app, ctx, req).await?;
            reauthenticate(app, ctx, req, &account).await?;
            links::unlink(&app.deps(), ctx, &account).await?;
            Ok(Reply::ok(json!({ "linked": false })))
        }
        (Method::GET | Method::POST, "start") => {
            let claims = claims(app, ctx, req)?;
            let account = utokyo_caller_of(app, ctx, &claims).await?;
            if req.method() == Method::POST {
                reauthenticate(app, ctx, req, &account).await?;
            } else {
                no_body(req)?;
                if ctx.now.timestamp() - claims.iat > FRESH_SIGN_IN_SECONDS {
                    return Err(ApiError::IdentityRefused { reason: "reauthentication_required" });
                }
            }
            identity::start(&app.deps(), ctx, Purpose::Link, &account).await?.reply()
        }
        (Method::GET, "callback") => {
            let outcome = callback(app, ctx, req).await.map(|reply| ("linked=1".to_owned(), reply));
            identity::answer_callback(&app.deps(), ctx, req, "identity-link", outcome)
        }
        (_, "start") => method_not_allowed(req, &[Method::GET, Method::POST]),
        (_, "callback") => method_not_allowed(req, &[Method::GET]),
        _ => method_not_allowed(req, &[Method::GET, Method::DELETE]),
    }
}

async fn callback(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let (flow, who) = identity::complete(&app.deps(), ctx, Purpose::Link, Callback::from_request(req)).await?;
    // The account as it is now: still usable (its token may have ended meanwhile).
    let account =
        app.store.account(&flow.account).await?.filter(|a| a.is_usable(ctx.today())).ok_or(ApiError::Unauthorized)?;
    // Started under other credentials (a password change or reset since): ended with them.
    let cv = flow.cv.filter(|cv| *cv == account.credentials_version).ok_or(ApiError::Unauthorized)?;
    let link = links::link(&app.deps(), ctx, &account, cv, &who.issuer, &who.subject).await?;
    Ok(Reply::ok(json!({ "linked": true, "issuer": link.issuer, "linked_at": time::rfc3339(link.linked_at) })))
}

/// The current password in the body (R-SEC-1), checked like a login.
async fn reauthenticate(app: &App, ctx: &Ctx, req: &Request, account: &Account) -> Result<(), ApiError> {
    let Reauthentication { current_password } = json_body(req)?;
    shared::usecase::session::reauthenticate(&app.deps(), ctx, &account.key(), &account.password_hash, current_password)
        .await
}
