//! `GET /api/proxy-targets/{account}` — a proxy-permission holder looks up a target: name, kind
//! and department only; one identical 404 for a missing, out-of-scope or ineligible target
//! (R-APP-PROXY-1..2).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::domain::application::{check_proxy_target, target_view};
use shared::edge::http::{Reply, method_not_allowed, no_body, path_param, respond, utokyo_caller_and_account};
use shared::{ApiError, App, Ctx};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    if req.method() != Method::GET {
        return method_not_allowed(req, &[Method::GET]);
    }
    no_body(req)?;
    let wanted = path_param(req, "account").unwrap_or_default();
    // The holder and the target, in one read (a malformed id is not looked up).
    let (holder, target) = utokyo_caller_and_account(app, ctx, req, &wanted).await?;
    holder.check_proxy_permission()?;
    check_proxy_target(&holder, target.as_ref(), ctx.today())?;
    let target = target.ok_or(ApiError::TargetNotFoundOrNotEligible)?;
    Ok(Reply::ok(target_view(&target)))
}
