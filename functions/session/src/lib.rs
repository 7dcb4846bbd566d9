//! `POST /api/session` — log in with realm, account and password; get a token (R-LOGIN-1..4),
//! or, with a second factor enrolled, a challenge; `POST /api/session/second-factor`
//! `{challenge, code}` — the code (or a recovery code) for it; get the token (R-CRED-3).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::edge::http::{Reply, json_body, method_not_allowed, respond};
use shared::usecase::session;
use shared::{ApiError, App, Ctx};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    match *req.method() {
        Method::POST if req.uri().path().trim_end_matches('/').ends_with("/second-factor") => {
            Ok(Reply::ok(session::second_step(&app.deps(), ctx, json_body(req)?).await?))
        }
        Method::POST => Ok(Reply::ok(session::login(&app.deps(), ctx, json_body(req)?).await?)),
        _ => method_not_allowed(req, &[Method::POST]),
    }
}
