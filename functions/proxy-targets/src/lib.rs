//! `GET /api/proxy-targets/{account}` — a proxy-permission holder looks up a target: name, kind
//! and department only; one identical 404 for a missing, out-of-scope or ineligible target
//! (R-APP-PROXY-1..2).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::domain::account::{Holder, Realm};
use shared::domain::application::{check_proxy_target, target_view};
use shared::edge::http::{Reply, method_not_allowed, no_body, path_param, respond, utokyo_caller_with};
use shared::store::{Item, accounts};
use shared::{ApiError, App, Ctx};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = Ctx::for_request(app, &req);
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
    let extra: Vec<(&str, Item)> = if Realm::Utokyo.is_valid_id(&wanted) {
        vec![(app.store.tables.accounts.as_str(), accounts::key(Realm::Utokyo, &wanted))]
    } else {
        vec![]
    };
    let (holder, items) = utokyo_caller_with(app, ctx, req, &extra).await?;
    holder.check_proxy_permission()?;
    let target = match items.into_iter().next().flatten().map(accounts::holder_from_item).transpose()? {
        Some(Holder::Utokyo(a)) => Some(*a),
        _ => None,
    };
    check_proxy_target(&holder, target.as_ref(), ctx.today())?;
    let target = target.ok_or(ApiError::TargetNotFoundOrNotEligible)?;
    Ok(Reply::ok(target_view(&target)))
}
