//! The identity verification link (R-CRED-4), an OpenID Connect sign-in at the provider:
//!
//! - `GET /api/identity-link` — whether the account is linked, to which provider, since when
//! - `GET /api/identity-link/start` — `{authorization_url, expires_at}` and the flow cookie; the
//!   browser goes to the provider
//! - `GET /api/identity-link/callback` — the provider's redirect back: the link is made (a
//!   provider account linked to another account is refused). A browser is sent back to the
//!   portal's identity-link page with the result; an API client gets JSON.
//! - `DELETE /api/identity-link` — removes the link

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::http::{Reply, cookie, method_not_allowed, no_body, query_param, respond, utokyo_caller, wants_html};
use shared::identity::{self, Callback, FLOW_COOKIE};
use shared::store::identity::{self as links, Purpose};
use shared::{ApiError, App, Ctx, time};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = Ctx::for_request(app, &req);
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
            links::unlink(app, ctx, &account).await?;
            Ok(Reply::ok(json!({ "linked": false })))
        }
        (Method::GET, "start") => {
            no_body(req)?;
            let account = utokyo_caller(app, ctx, req).await?;
            let started = identity::start(app, ctx, Purpose::Link, &account.id).await?;
            Reply::ok(json!({
                "authorization_url": started.authorization_url,
                "expires_at": time::rfc3339(started.expires_at),
            }))
            .with_header(http::header::SET_COOKIE, &started.set_cookie)
        }
        (Method::GET, "callback") => {
            let outcome = callback(app, ctx, req).await;
            let clear = identity::clear_cookie(app);
            if wants_html(req) {
                let page = format!("{}/#/identity-link", app.portal_url.trim_end_matches('/'));
                let location = match &outcome {
                    Ok(_) => format!("{page}?linked=1"),
                    Err(e) => format!("{page}?error={}", e.reason()),
                };
                return Reply::see_other(&location)?.with_header(http::header::SET_COOKIE, &clear);
            }
            outcome?.with_header(http::header::SET_COOKIE, &clear)
        }
        (_, "start" | "callback") => method_not_allowed(req, &[Method::GET]),
        _ => method_not_allowed(req, &[Method::GET, Method::DELETE]),
    }
}

async fn callback(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let callback = Callback {
        state: query_param(req, "state"),
        code: query_param(req, "code"),
        iss: query_param(req, "iss"),
        error: query_param(req, "error"),
        cookie: cookie(req, FLOW_COOKIE),
    };
    let (flow, who) = identity::complete(app, ctx, Purpose::Link, callback).await?;
    // The account as it is now: still usable (its token may have ended meanwhile).
    let account =
        app.store.account(&flow.account).await?.filter(|a| a.is_usable(ctx.today())).ok_or(ApiError::Unauthorized)?;
    let link = links::link(app, ctx, &account, &who.issuer, &who.subject).await?;
    Ok(Reply::ok(json!({ "linked": true, "issuer": link.issuer, "linked_at": time::rfc3339(link.linked_at) })))
}
