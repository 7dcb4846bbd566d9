//! The `runs` table: one summary per schedule run (R-SYNC-1) — started, finished, applied,
//! failed, remaining, items read, why it stopped — for operators and for the next run.

use serde::{Deserialize, Serialize};

use super::{Store, sdk_error, to_item};
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The schedule: `sync-hourly` or `sweep-daily`.
    pub pk: String,
    /// When it started (stored stamp), the sort key.
    pub sk: String,
    pub request_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    /// Changes applied (sync) or accounts handled (sweep).
    pub applied: u64,
    /// Changes the target refused; kept pending and retried next hour (R-SYNC-4).
    pub failed: u64,
    /// Due items left for the next run (R-SYNC-3).
    pub remaining: u64,
    /// Items read from DynamoDB, counted from the responses (R-SYNC-2).
    pub items_read: u64,
    /// `done`, `budget` or `deadline`.
    pub stopped: String,
    #[serde(default)]
    pub failures: Vec<RunFailure>,
    /// Notices queued by this run (the sweep, R-LC-5).
    #[serde(default)]
    pub notices_queued: u64,
    /// Mail sent from the outbox by this run, and mail that failed (kept for a retry).
    #[serde(default)]
    pub messages_sent: u64,
    #[serde(default)]
    pub messages_failed: u64,
    /// Invitation and confirmation links the sweep expired (R-LC-6..7).
    #[serde(default)]
    pub links_expired: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    pub account: String,
    pub kind: String,
    pub error: String,
}

impl Store {
    pub async fn record_run(&self, run: &RunSummary) -> Result<(), ApiError> {
        self.db
            .put_item()
            .table_name(&self.tables.runs)
            .set_item(Some(to_item(run)?))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// The latest runs of a schedule, newest first.
    pub async fn runs_of(&self, schedule: &str, limit: i32) -> Result<Vec<RunSummary>, ApiError> {
        self.newest(&self.tables.runs, schedule, limit).await
    }
}
