//! `POST, GET /api/applications` — the application menu: usage, suspension with a stop date,
//! proxy application (R-APP-USE-1, R-APP-SUS-1..2, R-APP-PROXY-1..3), and the caller's own
//! applications as applicant or target; `DELETE /api/applications/{id}` withdraws a suspension
//! the sweep has not applied yet (R-APP-SUS-3).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::domain::application::ApplicationRequest;
use shared::edge::http::{
    Reply, claims, json_body, method_not_allowed, no_body, path_param, respond, utokyo_caller, utokyo_caller_of,
};
use shared::usecase::applications::{apply_proxy, apply_suspension, apply_usage, withdraw};
use shared::{ApiError, App, Ctx};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    if let Some(id) = path_param(req, "id") {
        if req.method() != Method::DELETE {
            return method_not_allowed(req, &[Method::DELETE]);
        }
        no_body(req)?;
        let account = utokyo_caller(app, ctx, req).await?;
        let record = withdraw(&app.deps(), ctx, &account, &id).await?;
        return Ok(Reply::ok(record.view(ctx.today())));
    }
    match *req.method() {
        Method::POST => {
            let account = utokyo_caller(app, ctx, req).await?;
            let body: ApplicationRequest = json_body(req)?;
            account.check_application_menu()?;
            let record = match body {
                ApplicationRequest::EccsUsage {} => apply_usage(&app.deps(), ctx, &account).await?,
                ApplicationRequest::EccsSuspension { stop_date } => {
                    apply_suspension(&app.deps(), ctx, &account, stop_date).await?
                }
                ApplicationRequest::EccsProxy { target } => apply_proxy(&app.deps(), ctx, &account, &target).await?,
            };
            Ok(Reply::created(record.view(ctx.today())))
        }
        Method::GET => {
            no_body(req)?;
            // The caller and the applications at once (of the token's subject; shown only once
            // the account checks out).
            let claims = claims(app, ctx, req)?;
            let (_account, items) =
                tokio::try_join!(utokyo_caller_of(app, ctx, &claims), app.store.applications_of(&claims.sub, 100))?;
            Ok(Reply::ok(json!({ "items": items.iter().map(|a| a.view(ctx.today())).collect::<Vec<_>>() })))
        }
        _ => method_not_allowed(req, &[Method::GET, Method::POST]),
    }
}
