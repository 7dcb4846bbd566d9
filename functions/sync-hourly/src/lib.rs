//! Scheduled function (declared in the template; the run itself comes with the schedules issue).

use serde_json::{Value, json};
use shared::{ApiError, App};

pub async fn handle(_app: &App, _event: Value) -> Result<Value, ApiError> {
    Ok(json!({ "status": "not yet implemented" }))
}
