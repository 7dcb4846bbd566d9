//! The daily sweep (EventBridge Scheduler, 00:05 Asia/Tokyo): invalidates rights whose stop date
//! or last day has come, turns their remote access off, expires workshop accounts (R-SWEEP-1..2,
//! R-RA-3). The event may add `item_budget` to handle fewer items in one run.

use serde_json::Value;
use shared::usecase::schedule::{self, Invocation, Which};
use shared::{ApiError, App};

pub async fn handle(app: &App, event: Value, invocation: Invocation) -> Result<Value, ApiError> {
    schedule::handle_event(&app.deps(), &app.run_settings(), event, invocation, Which::Sweep).await
}
