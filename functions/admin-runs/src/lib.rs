//! `GET /api/admin/runs` — operators see the last runs of the hourly sync and the daily sweep,
//! with what failed (R-SYNC-1, R-SYNC-4).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::edge::http::{Reply, method_not_allowed, no_body, operator, respond};
use shared::usecase::schedule::{SWEEP, SYNC};
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
    operator(app, ctx, req).await?;
    let (sync, sweep) = tokio::try_join!(app.store.runs_of(SYNC, 10), app.store.runs_of(SWEEP, 10))?;
    let view = |runs: Vec<shared::store::runs::RunSummary>| {
        runs.into_iter()
            .map(|r| {
                json!({
                    "started_at": r.started_at, "finished_at": r.finished_at, "duration_ms": r.duration_ms,
                    "applied": r.applied, "failed": r.failed, "remaining": r.remaining, "items_read": r.items_read,
                    "stopped": r.stopped, "notices_queued": r.notices_queued, "messages_sent": r.messages_sent,
                    "messages_failed": r.messages_failed, "links_expired": r.links_expired, "failures": r.failures.iter().map(|f| json!({
                        "account": f.account, "kind": f.kind, "error": f.error,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>()
    };
    Ok(Reply::ok(json!({ "sync_hourly": view(sync), "sweep_daily": view(sweep) })))
}
