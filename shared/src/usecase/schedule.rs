//! The schedules: the hourly sync (R-SYNC-1..4) and the daily sweep (R-SWEEP-1..2).
//!
//! Both read only what is due through a sparse index (never a scan, R-SYNC-2), handle each item
//! in its own transaction that holds only if the item is still as read (so a second run, or two
//! runs at once, change nothing twice, R-SYNC-3), stop cleanly at an item budget or before the
//! Lambda deadline (what is left is still due, and the next run continues with it), and record a
//! run summary.

use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use chrono::NaiveDate;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::domain::account::{Account, Holder, Status, WorkshopAccount};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::store::accounts::{self, SWEEP_INDEX, SWEEP_Q, holder_from_item, with_sweep};
use crate::store::audit::AuditRecord;
use crate::store::changes::{self, Change, ChangeKind, Outcome, PENDING_INDEX, PENDING_Q};
use crate::store::outbox;
use crate::store::runs::{RunFailure, RunSummary};
use crate::store::settings::settings_key;
use crate::store::tx::{self, Expr, TxError};
use crate::store::{Item, b, n, s, sdk_error};
use crate::domain::time;

pub const SYNC: &str = "sync-hourly";
pub const SWEEP: &str = "sweep-daily";

/// Items handled at once within a page.
const CONCURRENCY: usize = 8;
/// Items asked for per page.
const PAGE: usize = 100;
/// Stop this long before the Lambda deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The event EventBridge Scheduler sends (the template's `Input`), and what an operator may add
/// when invoking by hand.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEvent {
    #[serde(default)]
    pub scheduled_time: Option<String>,
    #[serde(default)]
    pub execution_id: Option<String>,
    /// Handle at most this many items in this run (default: the configured budget).
    #[serde(default)]
    pub item_budget: Option<usize>,
}

/// How far a run may go.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub item_budget: usize,
    pub deadline: Option<SystemTime>,
}

impl Limits {
    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| d.duration_since(SystemTime::now()).unwrap_or_default() < DEADLINE_MARGIN)
    }
}

/// What happened to one item.
enum Handled {
    Applied,
    Failed(RunFailure),
    /// Nothing to do after all (another run or a user got there first).
    Skipped,
}

/// One kind of scheduled work: pages of due items, and what to do with each.
#[async_trait]
trait Job: Sync {
    type Due: Send;
    /// A page of due items, where to go on from, and the number of items read.
    async fn page(&self, limit: usize, start: Option<Item>) -> Result<(Vec<Self::Due>, Option<Item>, usize), ApiError>;
    async fn handle(&self, due: Self::Due) -> Result<Handled, ApiError>;
    /// How many are still due (and how many items counting them read).
    async fn remaining(&self) -> Result<(u64, usize), ApiError>;
}

async fn drive<J: Job>(ctx: &Ctx, name: &str, limits: Limits, job: &J) -> Result<RunSummary, ApiError> {
    let started = Instant::now();
    let mut summary = RunSummary {
        pk: name.to_owned(),
        sk: format!("{}#{}", time::stamp(ctx.now), ctx.request_id),
        request_id: ctx.request_id.clone(),
        started_at: time::rfc3339(ctx.now),
        finished_at: String::new(),
        duration_ms: 0,
        applied: 0,
        failed: 0,
        remaining: 0,
        items_read: 0,
        stopped: "done".into(),
        failures: vec![],
        notices_queued: 0,
        messages_sent: 0,
        messages_failed: 0,
        links_expired: 0,
    };
    let mut handled = 0usize;
    let mut start = None;
    loop {
        if handled >= limits.item_budget {
            summary.stopped = "budget".into();
            break;
        }
        if limits.out_of_time() {
            summary.stopped = "deadline".into();
            break;
        }
        let limit = PAGE.min(limits.item_budget - handled);
        let (due, next, read) = job.page(limit, start).await?;
        summary.items_read += read as u64;
        handled += due.len();
        let results: Vec<_> =
            futures::stream::iter(due).map(|d| job.handle(d)).buffer_unordered(CONCURRENCY).collect().await;
        for result in results {
            match result? {
                Handled::Applied => summary.applied += 1,
                Handled::Failed(f) => {
                    summary.failed += 1;
                    if summary.failures.len() < 100 {
                        summary.failures.push(f);
                    }
                }
                Handled::Skipped => {}
            }
        }
        start = next;
        if start.is_none() {
            break;
        }
    }
    if summary.stopped != "done" {
        let (remaining, read) = job.remaining().await?;
        summary.remaining = remaining;
        summary.items_read += read as u64;
    }
    summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(summary)
}

/// Sends the outbox's due mail within what is left of the run's budget, then records the run.
async fn finish(app: &App, ctx: &Ctx, limits: Limits, mut summary: RunSummary) -> Result<RunSummary, ApiError> {
    let started = Instant::now();
    if !limits.out_of_time() {
        let left =
            limits.item_budget.saturating_sub(usize::try_from(summary.applied + summary.failed).unwrap_or(usize::MAX));
        let (sent, failed, read) = outbox::send_due(app, ctx, left.max(1)).await?;
        summary.messages_sent = sent;
        summary.messages_failed = failed;
        summary.items_read += read;
    }
    summary.duration_ms += u64::try_from(started.elapsed().as_millis()).unwrap_or(0);
    summary.finished_at = time::rfc3339(app.clock.now());
    app.store.record_run(&summary).await?;
    crate::edge::metrics::publish_run(app.metrics_namespace.as_deref(), &summary, app.clock.now().timestamp_millis());
    let name = summary.pk.clone();
    tracing::info!(
        schedule = %name,
        applied = summary.applied,
        failed = summary.failed,
        remaining = summary.remaining,
        items_read = summary.items_read,
        stopped = %summary.stopped,
        notices_queued = summary.notices_queued,
        messages_sent = summary.messages_sent,
        messages_failed = summary.messages_failed,
        duration_ms = summary.duration_ms,
        "run"
    );
    Ok(summary)
}

/// Counts what a query matches, page by page; returns (count, items read).
async fn count(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<(u64, usize), ApiError> {
    let mut total = 0u64;
    let mut read = 0usize;
    let mut start = None;
    loop {
        let out = query
            .clone()
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        total += u64::try_from(out.count).unwrap_or(0);
        read += usize::try_from(out.scanned_count).unwrap_or(0);
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok((total, read));
        }
    }
}

// ---------------------------------------------------------------- the hourly sync

struct HourlySync<'a> {
    app: &'a App,
    ctx: &'a Ctx,
    actor: String,
}

#[async_trait]
impl Job for HourlySync<'_> {
    type Due = Change;

    async fn page(&self, limit: usize, start: Option<Item>) -> Result<(Vec<Change>, Option<Item>, usize), ApiError> {
        self.app.store.due_changes(self.ctx.now, i32::try_from(limit).unwrap_or(i32::MAX), start).await
    }

    async fn handle(&self, change: Change) -> Result<Handled, ApiError> {
        Ok(match changes::apply(self.app, self.ctx, &self.actor, &change).await? {
            Outcome::Applied => Handled::Applied,
            Outcome::Failed(error) => {
                Handled::Failed(RunFailure { account: change.account, kind: change.sk.as_str().into(), error })
            }
            Outcome::Superseded => Handled::Skipped,
        })
    }

    async fn remaining(&self) -> Result<(u64, usize), ApiError> {
        let store = &self.app.store;
        count(
            store
                .db
                .query()
                .table_name(&store.tables.changes)
                .index_name(PENDING_INDEX)
                .key_condition_expression("q = :q AND due <= :now")
                .expression_attribute_values(":q", s(PENDING_Q))
                .expression_attribute_values(":now", s(time::stamp(self.ctx.now))),
        )
        .await
    }
}

/// R-SYNC-1..4: applies every change due by now, through the target, with a receipt each; then
/// sends (or retries) the outbox's due mail.
pub async fn sync(app: &App, ctx: &Ctx, limits: Limits) -> Result<RunSummary, ApiError> {
    let summary = drive(ctx, SYNC, limits, &HourlySync { app, ctx, actor: format!("system:{SYNC}") }).await?;
    finish(app, ctx, limits, summary).await
}

// ---------------------------------------------------------------- the daily sweep

struct DailySweep<'a> {
    app: &'a App,
    ctx: &'a Ctx,
    today: NaiveDate,
    actor: String,
}

#[async_trait]
impl Job for DailySweep<'_> {
    type Due = Item;

    async fn page(&self, limit: usize, start: Option<Item>) -> Result<(Vec<Item>, Option<Item>, usize), ApiError> {
        let store = &self.app.store;
        let out = store
            .db
            .query()
            .table_name(&store.tables.accounts)
            .index_name(SWEEP_INDEX)
            .key_condition_expression("sweep_q = :q AND sweep_on <= :today")
            .expression_attribute_values(":q", s(SWEEP_Q))
            .expression_attribute_values(":today", s(self.today.to_string()))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let read = usize::try_from(out.count).unwrap_or(0);
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key, read))
    }

    async fn handle(&self, item: Item) -> Result<Handled, ApiError> {
        // The index may lag the table (it is eventually consistent): one retry with a fresh,
        // strongly consistent read if the item changed under us.
        let mut holder = holder_from_item(item)?;
        for _ in 0..2 {
            let outcome = match &holder {
                Holder::Utokyo(a) => self.invalidate_right(a).await?,
                Holder::Workshop(w) => self.expire_workshop(w).await?,
            };
            match outcome {
                Some(handled) => return Ok(handled),
                None => {
                    let (realm, id) = match &holder {
                        Holder::Utokyo(a) => (crate::domain::account::Realm::Utokyo, a.id.clone()),
                        Holder::Workshop(w) => (crate::domain::account::Realm::Workshop, w.id.clone()),
                    };
                    match self.app.store.holder(realm, &id).await? {
                        Some(fresh) => holder = fresh,
                        None => return Ok(Handled::Skipped),
                    }
                }
            }
        }
        let account = match &holder {
            Holder::Utokyo(a) => a.id.clone(),
            Holder::Workshop(w) => w.id.clone(),
        };
        Ok(Handled::Failed(RunFailure {
            account,
            kind: "sweep".into(),
            error: "changed during the sweep; next run".into(),
        }))
    }

    async fn remaining(&self) -> Result<(u64, usize), ApiError> {
        let store = &self.app.store;
        count(
            store
                .db
                .query()
                .table_name(&store.tables.accounts)
                .index_name(SWEEP_INDEX)
                .key_condition_expression("sweep_q = :q AND sweep_on <= :today")
                .expression_attribute_values(":q", s(SWEEP_Q))
                .expression_attribute_values(":today", s(self.today.to_string())),
        )
        .await
    }
}

impl DailySweep<'_> {
    /// R-SWEEP-1, R-RA-3: a right whose stop date or last day has come is invalidated; remote
    /// access goes off and the counter down with it; the ECCS servers and the gateway are told.
    /// `None`: the account changed since it was read.
    async fn invalidate_right(&self, account: &Account) -> Result<Option<Handled>, ApiError> {
        let (app, ctx, store) = (self.app, self.ctx, &self.app.store);
        let key = accounts::key(crate::domain::account::Realm::Utokyo, &account.id);
        let mut items = Vec::new();
        let pinned = pin_right(account);
        if account.right_until.is_none() || account.right_valid(self.today) {
            // Still valid (a new right was granted): only the index entry was stale.
            let expr = with_sweep(pinned.1, account.sweep_on());
            return match tx::commit(store, vec![tx::update(&store.tables.accounts, key, Some(&pinned.0), expr)?]).await
            {
                Ok(()) => Ok(Some(Handled::Skipped)),
                Err(TxError::Refused(_)) => Ok(None),
                Err(TxError::Failed(e)) => Err(e),
            };
        }
        let expr = with_sweep(pinned.1, None).remove("right_until").remove("right_stop_on").set("remote_access = :off");
        items.push(tx::update(&store.tables.accounts, key, Some(&pinned.0), expr.value(":off", b(false)))?);
        if account.remote_access {
            items.push(tx::update(
                &store.tables.settings,
                settings_key(),
                Some("in_use > :zero"),
                Expr::new().set("in_use = in_use - :one").value(":zero", n(0)).value(":one", n(1)),
            )?);
        }
        let mut off = vec![Change::switch(&account.id, ChangeKind::Eccs, false, ctx.now)];
        if account.remote_access {
            off.push(Change::switch(&account.id, ChangeKind::RemoteAccess, false, ctx.now));
        }
        let staged = changes::stage(app, ctx.now, off, &mut items)?;
        items.push(
            AuditRecord::new(ctx, &self.actor, &account.key(), "right.invalidated")
                .change(
                    json!({ "right_until": account.right_until, "stop_on": account.right_stop_on, "remote_access": account.remote_access }),
                    json!({ "valid": false, "remote_access": false }),
                )
                .put(store)?,
        );
        match tx::commit(store, items).await {
            Ok(()) => {
                changes::apply_staged(app, ctx, &self.actor, staged).await;
                Ok(Some(Handled::Applied))
            }
            Err(TxError::Refused(_)) => Ok(None),
            Err(TxError::Failed(e)) => Err(e),
        }
    }

    /// R-SWEEP-1: a workshop account past its valid_until expires.
    async fn expire_workshop(&self, account: &WorkshopAccount) -> Result<Option<Handled>, ApiError> {
        let store = &self.app.store;
        let key = accounts::key(crate::domain::account::Realm::Workshop, &account.id);
        let condition = "#status = :active AND valid_until = :valid_until";
        let pin = Expr::new()
            .name("#status", "status")
            .value(":active", s("active"))
            .value(":valid_until", s(account.valid_until.to_string()));
        let mut items = Vec::new();
        let due = account.status == Status::Active && account.valid_until < self.today;
        if due {
            items.push(tx::update(
                &store.tables.accounts,
                key,
                Some(condition),
                with_sweep(pin, None).set("#status = :expired").value(":expired", s("expired")),
            )?);
            items.push(
                AuditRecord::new(self.ctx, &self.actor, &account.key(), "workshop.expired")
                    .change(
                        json!({ "status": "active", "valid_until": account.valid_until }),
                        json!({ "status": "expired" }),
                    )
                    .put(store)?,
            );
        } else {
            // Not due yet (its valid_until moved): put the index entry right.
            let on = if account.status == Status::Active { account.sweep_on() } else { None };
            items.push(tx::update(
                &store.tables.accounts,
                key,
                Some("valid_until = :valid_until"),
                with_sweep(Expr::new().value(":valid_until", s(account.valid_until.to_string())), on),
            )?);
        }
        match tx::commit(store, items).await {
            Ok(()) => Ok(Some(if due { Handled::Applied } else { Handled::Skipped })),
            Err(TxError::Refused(_)) => Ok(None),
            Err(TxError::Failed(e)) => Err(e),
        }
    }
}

/// A condition that holds only while the account's right and remote-access flag are as read.
fn pin_right(account: &Account) -> (String, Expr) {
    let mut conditions = vec![if account.remote_access {
        "remote_access = :ra".to_owned()
    } else {
        "(attribute_not_exists(remote_access) OR remote_access = :ra)".to_owned()
    }];
    let mut expr = Expr::new().value(":ra", b(account.remote_access));
    match account.right_until {
        Some(d) => {
            conditions.push("right_until = :ru".into());
            expr = expr.value(":ru", s(d.to_string()));
        }
        None => conditions.push("attribute_not_exists(right_until)".into()),
    }
    match account.right_stop_on {
        Some(d) => {
            conditions.push("right_stop_on = :rs".into());
            expr = expr.value(":rs", s(d.to_string()));
        }
        None => conditions.push("attribute_not_exists(right_stop_on)".into()),
    }
    (conditions.join(" AND "), expr)
}

/// R-SWEEP-1..2: invalidates rights whose stop date or last day has come, and expires workshop
/// accounts past their valid_until.
pub async fn sweep(app: &App, ctx: &Ctx, limits: Limits) -> Result<RunSummary, ApiError> {
    let actor = format!("system:{SWEEP}");
    let job = DailySweep { app, ctx, today: ctx.today(), actor: actor.clone() };
    let mut summary = drive(ctx, SWEEP, limits, &job).await?;
    // R-LC-5: the day's notices, then the mail.
    let (queued, read) = outbox::queue_notices(app, ctx, &actor).await?;
    summary.notices_queued = queued;
    summary.items_read += read;
    // R-LC-6..7: links not used in time.
    let (expired, read) = crate::store::services::expire_links(app, ctx, &actor).await?;
    summary.links_expired = expired;
    summary.items_read += read;
    finish(app, ctx, limits, summary).await
}

/// Which schedule a function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Sync,
    Sweep,
}

/// A scheduled function's whole handler: reads the event (an empty one is the plain schedule),
/// runs the schedule within the invocation's deadline, answers the run summary.
pub async fn handle_event(
    app: &App,
    event: serde_json::Value,
    invocation: Invocation,
    which: Which,
) -> Result<serde_json::Value, ApiError> {
    let event: ScheduleEvent = if event.is_null() {
        ScheduleEvent::default()
    } else {
        serde_json::from_value(event).map_err(|e| ApiError::BadRequest(e.to_string()))?
    };
    let name = match which {
        Which::Sync => SYNC,
        Which::Sweep => SWEEP,
    };
    let ctx = Ctx::for_schedule(app, name, event.execution_id.or(invocation.request_id));
    let limits = Limits { item_budget: event.item_budget.unwrap_or(app.item_budget), deadline: invocation.deadline };
    let summary = match which {
        Which::Sync => sync(app, &ctx, limits).await?,
        Which::Sweep => sweep(app, &ctx, limits).await?,
    };
    serde_json::to_value(summary).map_err(|e| ApiError::Internal(e.to_string()))
}

/// What the runtime tells a function about this invocation.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub request_id: Option<String>,
    /// When Lambda stops the invocation.
    pub deadline: Option<SystemTime>,
}
