//! `GET /api/me` — the caller's profile, right, remote access and every menu item with its
//! availability and reason (R-MENU-1..4).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::domain::account::Holder;
use shared::edge::http::{Reply, caller, method_not_allowed, no_body, respond};
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
    let today = ctx.today();
    Ok(Reply::ok(match caller(app, ctx, req).await? {
        Holder::Utokyo(a) => json!({
            "profile": a.profile(),
            "right": a.right_summary(today),
            "remote_access": { "enabled": a.remote_access },
            "cloud_mail": { "address": a.mail_address },
            "menus": a.menus(today),
        }),
        Holder::Workshop(w) => json!({ "profile": w.profile(), "menus": w.menus() }),
    }))
}
