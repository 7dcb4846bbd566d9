//! The hourly sync (EventBridge Scheduler, `cron(0 * * * ? *)`, Asia/Tokyo): applies every
//! pending cloud-mail change due by now, and retries refused ones (R-SYNC-1..4). The event may add
//! `item_budget` to handle fewer items in one run.

use serde_json::Value;
use shared::usecase::schedule::{self, Invocation, Which};
use shared::{ApiError, App};

pub async fn handle(app: &App, event: Value, invocation: Invocation) -> Result<Value, ApiError> {
    schedule::handle_event(&app.deps(), &app.run_settings(), event, invocation, Which::Sync).await
}
