//! The schedules in-process: each `ScheduleV2` of the template fires its function at the times
//! of its expression, in its time zone, by the settable Clock. Setting the clock past a fire time
//! fires it once (a missed run is the function's own business to catch up, R-SYNC-3); setting it
//! back re-aims at the next time after the new "now". A run does not overlap a run of the same
//! schedule.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};
use shared::domain::time;
use shared::usecase::schedule::Invocation;
use shared::{ApiError, App};
use tokio::sync::{Mutex, Notify};

use crate::functions::{self, Handler};
use crate::template::Template;

pub struct Entry {
    /// The schedule's name in the template (`eccs-sync-hourly`).
    pub name: String,
    /// The function's folder (`sync-hourly`), also the name `/_local/run/…` takes.
    pub function: String,
    pub expression: String,
    pub timezone: Tz,
    schedule: cron::Schedule,
    handler: Handler,
    running: AtomicBool,
    fired: AtomicU64,
    last: Mutex<Option<Value>>,
}

impl Entry {
    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        time::next_fire(&self.schedule, &self.timezone, t)
    }
}

pub struct Scheduler {
    entries: Vec<Arc<Entry>>,
    wake: Notify,
}

impl Scheduler {
    pub fn from_template(template: &Template) -> Result<Self, String> {
        let mut entries = Vec::new();
        for f in &template.functions {
            for s in &f.schedules {
                let handler = functions::find(&f.dir).ok_or_else(|| format!("no crate for {}", f.code_uri))?;
                entries.push(Arc::new(Entry {
                    name: s.name.clone(),
                    function: f.dir.clone(),
                    expression: s.expression.clone(),
                    timezone: s.timezone.parse().map_err(|e| format!("{}: {e}", s.timezone))?,
                    schedule: time::cron_schedule(&s.expression)?,
                    handler,
                    running: AtomicBool::new(false),
                    fired: AtomicU64::new(0),
                    last: Mutex::new(None),
                }));
            }
        }
        Ok(Self { entries, wake: Notify::new() })
    }

    /// Makes the loop look at the clock now (after `/_local/clock`).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until the process ends.
    pub async fn run(self: Arc<Self>, app: Arc<App>) {
        let start = app.clock.now();
        let mut next: Vec<Option<DateTime<Utc>>> = self.entries.iter().map(|e| e.next_after(start)).collect();
        let mut last_now = start;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = self.wake.notified() => {}
            }
            let now = app.clock.now();
            for (entry, next) in self.entries.iter().zip(next.iter_mut()) {
                if now < last_now {
                    *next = entry.next_after(now);
                    continue;
                }
                if next.is_some_and(|t| now >= t) {
                    *next = entry.next_after(now);
                    self.fire(&app, entry.clone());
                }
            }
            last_now = now;
        }
    }

    fn fire(&self, app: &Arc<App>, entry: Arc<Entry>) {
        if entry.running.swap(true, Ordering::SeqCst) {
            tracing::warn!(schedule = %entry.name, "previous run still going; this fire is skipped");
            return;
        }
        let app = app.clone();
        tokio::spawn(async move {
            let result = call(&app, &entry, serde_json::Map::new()).await;
            entry.running.store(false, Ordering::SeqCst);
            if let Err(e) = result {
                tracing::error!(schedule = %entry.name, error = %e, "scheduled run failed");
            }
        });
    }

    /// Runs a schedule's function now (`POST /_local/run/sync-hourly`), returning its summary.
    pub async fn run_now(
        &self,
        app: &Arc<App>,
        function: &str,
        extra: serde_json::Map<String, Value>,
    ) -> Option<Result<Value, ApiError>> {
        let entry = self.entries.iter().find(|e| e.function == function || e.name == function)?;
        Some(call(app, entry, extra).await)
    }

    pub fn status(&self) -> Value {
        json!(
            self.entries
                .iter()
                .map(|e| json!({
                    "name": e.name,
                    "function": e.function,
                    "expression": e.expression,
                    "timezone": e.timezone.name(),
                    "fired": e.fired.load(Ordering::SeqCst),
                    "running": e.running.load(Ordering::SeqCst),
                }))
                .collect::<Vec<_>>()
        )
    }

    pub fn entries(&self) -> &[Arc<Entry>] {
        &self.entries
    }
}

/// The event EventBridge Scheduler sends (the template's `Input`) with `extra` fields, then the
/// function.
async fn call(app: &App, entry: &Entry, extra: serde_json::Map<String, Value>) -> Result<Value, ApiError> {
    let Handler::Event(handler) = entry.handler else {
        return Err(ApiError::Internal(format!("{} is not an event function", entry.function)));
    };
    let mut event = json!({
        "scheduled_time": time::rfc3339(app.clock.now()),
        "execution_id": format!("local-{}", uuid::Uuid::new_v4()),
    });
    if let Some(map) = event.as_object_mut() {
        map.extend(extra);
    }
    entry.fired.fetch_add(1, Ordering::SeqCst);
    let result = handler(app, event, Invocation::default()).await;
    if let Ok(summary) = &result {
        *entry.last.lock().await = Some(summary.clone());
    }
    result
}
