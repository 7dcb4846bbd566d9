//! The schedules: the hourly sync (R-SYNC-1..4) and the daily sweep (R-SWEEP-1..2), and what
//! they carry along — the day's notices (R-LC-5), the links not used in time (R-LC-6..7) and the
//! outbox's mail.
//!
//! Every step is a [`Job`] under one driver: it reads only what is due through a sparse index
//! (never a scan, R-SYNC-2), page by page; handles each item in its own transaction that holds
//! only if the item is still as read (so a second run, or two runs at once, change nothing twice,
//! R-SYNC-3); and stops cleanly at the run's item budget or before the Lambda deadline — both
//! shared by all the steps of a run. What is left is still due and the next run continues with
//! it. Without an item budget in the event the deadline is the budget: one invocation (900 s)
//! handles far more than the backlog can be (one pending change per account and kind), so a
//! change promised for 11:00 is applied in the 11:00 run.

use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use chrono::NaiveDate;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::Deps;
use super::provisioning::{self, Outcome};
use super::unit::Tx;
use crate::ctx::Ctx;
use crate::domain::account::{Account, Holder, Realm, Status, WorkshopAccount};
use crate::domain::notices::{self, NoticeKind};
use crate::domain::time;
use crate::error::ApiError;
use crate::store::accounts::{self, holder_from_item, with_sweep};
use crate::store::audit::AuditRecord;
use crate::store::changes::{Change, ChangeKind};
use crate::store::outbox::OutboxMessage;
use crate::store::runs::{RunFailure, RunSummary};
use crate::store::services::ServiceRecord;
use crate::store::settings::one_user_fewer;
use crate::store::tx::{self, Expr};
use crate::store::{Due, Item, b, from_item, s};

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
    /// Handle at most this many items in this run (default: the configured budget, if any).
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

/// What a schedule run needs beyond the use cases' [`Deps`].
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// Items one run handles at most; `None`: as many as the deadline allows.
    pub item_budget: Option<usize>,
    /// The CloudWatch namespace of the run metrics (R-OPS-2).
    pub metrics_namespace: Option<String>,
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
    /// Where the next page starts.
    type Cursor: Send;
    /// A page of due items, where to go on from, and the number of items read.
    async fn page(
        &self,
        limit: usize,
        cursor: Option<Self::Cursor>,
    ) -> Result<(Vec<Self::Due>, Option<Self::Cursor>, usize), ApiError>;
    async fn handle(&self, due: Self::Due) -> Result<Handled, ApiError>;
    /// How many are still due (and how many items counting them read): asked of a run's main job
    /// when it stops.
    async fn remaining(&self) -> Result<(u64, usize), ApiError> {
        Ok((0, 0))
    }
}

/// What one job did in a run.
#[derive(Default)]
struct Tally {
    applied: u64,
    failed: u64,
    failures: Vec<RunFailure>,
}

/// One run: its budget and deadline, shared by every job it drives, and its summary.
struct Run<'a> {
    ctx: &'a Ctx,
    limits: Limits,
    handled: usize,
    started: Instant,
    summary: RunSummary,
}

impl<'a> Run<'a> {
    fn new(ctx: &'a Ctx, name: &str, limits: Limits) -> Self {
        let summary = RunSummary {
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
        Self { ctx, limits, handled: 0, started: Instant::now(), summary }
    }

    /// Why the run must stop now, if it must.
    fn stop(&self) -> Option<&'static str> {
        if self.handled >= self.limits.item_budget {
            Some("budget")
        } else if self.limits.out_of_time() {
            Some("deadline")
        } else {
            None
        }
    }

    /// Drives `job` until nothing is due or the run must stop; when the run's `main` job stops,
    /// what it leaves is counted into the summary.
    async fn drive<J: Job>(&mut self, job: &J, main: bool) -> Result<Tally, ApiError> {
        let mut tally = Tally::default();
        let mut cursor = None;
        loop {
            if let Some(reason) = self.stop() {
                self.summary.stopped = reason.into();
                // `remaining` is the run's own work left (changes, accounts), what its metric and
                // alarm watch; what a later step leaves (mail, links) waits for the next run.
                if main {
                    let (remaining, read) = job.remaining().await?;
                    self.summary.remaining += remaining;
                    self.summary.items_read += read as u64;
                }
                break;
            }
            let limit = PAGE.min(self.limits.item_budget - self.handled);
            let (due, next, read) = job.page(limit, cursor).await?;
            self.summary.items_read += read as u64;
            self.handled += due.len();
            let results: Vec<_> =
                futures::stream::iter(due).map(|d| job.handle(d)).buffer_unordered(CONCURRENCY).collect().await;
            for result in results {
                match result? {
                    Handled::Applied => tally.applied += 1,
                    Handled::Failed(f) => {
                        tally.failed += 1;
                        if tally.failures.len() < 100 {
                            tally.failures.push(f);
                        }
                    }
                    Handled::Skipped => {}
                }
            }
            cursor = next;
            if cursor.is_none() {
                break;
            }
        }
        Ok(tally)
    }

    /// Records the run, publishes its metrics and logs its line.
    async fn finish(mut self, deps: &Deps<'_>, settings: &RunSettings) -> Result<RunSummary, ApiError> {
        let summary = &mut self.summary;
        summary.duration_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        summary.finished_at = time::rfc3339(deps.clock.now());
        deps.store.record_run(summary).await?;
        crate::edge::metrics::publish_run(
            settings.metrics_namespace.as_deref(),
            summary,
            deps.clock.now().timestamp_millis(),
        );
        tracing::info!(
            schedule = %summary.pk,
            applied = summary.applied,
            failed = summary.failed,
            remaining = summary.remaining,
            items_read = summary.items_read,
            stopped = %summary.stopped,
            notices_queued = summary.notices_queued,
            messages_sent = summary.messages_sent,
            messages_failed = summary.messages_failed,
            links_expired = summary.links_expired,
            duration_ms = summary.duration_ms,
            request_id = %self.ctx.request_id,
            "run"
        );
        Ok(self.summary)
    }

    /// The outbox's due mail, within what is left of the run (R-LC-5..7).
    async fn send_mail(&mut self, deps: &Deps<'_>) -> Result<(), ApiError> {
        let Some(mailer) = deps.mailer else { return Ok(()) };
        let job = SendMail { deps: *deps, ctx: self.ctx, mailer: mailer.as_ref() };
        let tally = self.drive(&job, false).await?;
        self.summary.messages_sent = tally.applied;
        self.summary.messages_failed = tally.failed;
        Ok(())
    }
}

/// Pages of a sparse index's due items, decoded.
async fn due_page<T: serde::de::DeserializeOwned>(
    deps: &Deps<'_>,
    due: &Due<'_>,
    limit: usize,
    start: Option<Item>,
) -> Result<(Vec<T>, Option<Item>, usize), ApiError> {
    let (items, next, read) = deps.store.due_page(due, limit, start).await?;
    Ok((items.into_iter().map(from_item).collect::<Result<_, _>>()?, next, read))
}

// ---------------------------------------------------------------- the hourly sync

struct HourlySync<'a> {
    deps: Deps<'a>,
    ctx: &'a Ctx,
    actor: String,
}

#[async_trait]
impl Job for HourlySync<'_> {
    type Due = Change;
    type Cursor = Item;

    async fn page(&self, limit: usize, start: Option<Item>) -> Result<(Vec<Change>, Option<Item>, usize), ApiError> {
        due_page(&self.deps, &self.deps.store.due_changes(self.ctx.now), limit, start).await
    }

    async fn handle(&self, change: Change) -> Result<Handled, ApiError> {
        Ok(match provisioning::apply(&self.deps, self.ctx, &self.actor, &change).await? {
            Outcome::Applied => Handled::Applied,
            Outcome::Failed(error) => {
                Handled::Failed(RunFailure { account: change.account, kind: change.kind.as_str().into(), error })
            }
            Outcome::Superseded => Handled::Skipped,
        })
    }

    async fn remaining(&self) -> Result<(u64, usize), ApiError> {
        self.deps.store.count_due(&self.deps.store.due_changes(self.ctx.now)).await
    }
}

/// R-SYNC-1..4: applies every change due by now, through the target, with a receipt each; then
/// sends (or retries) the outbox's due mail.
pub async fn sync(deps: &Deps<'_>, ctx: &Ctx, limits: Limits, settings: &RunSettings) -> Result<RunSummary, ApiError> {
    let mut run = Run::new(ctx, SYNC, limits);
    let tally = run.drive(&HourlySync { deps: *deps, ctx, actor: format!("system:{SYNC}") }, true).await?;
    (run.summary.applied, run.summary.failed, run.summary.failures) = (tally.applied, tally.failed, tally.failures);
    run.send_mail(deps).await?;
    run.finish(deps, settings).await
}

// ---------------------------------------------------------------- the daily sweep

struct DailySweep<'a> {
    deps: Deps<'a>,
    ctx: &'a Ctx,
    today: NaiveDate,
    actor: String,
}

#[async_trait]
impl Job for DailySweep<'_> {
    type Due = Holder;
    type Cursor = Item;

    async fn page(&self, limit: usize, start: Option<Item>) -> Result<(Vec<Holder>, Option<Item>, usize), ApiError> {
        let (items, next, read) =
            self.deps.store.due_page(&self.deps.store.due_sweeps(self.today), limit, start).await?;
        Ok((items.into_iter().map(holder_from_item).collect::<Result<_, _>>()?, next, read))
    }

    async fn handle(&self, mut holder: Holder) -> Result<Handled, ApiError> {
        // The index may lag the table (it is eventually consistent): one retry with a fresh,
        // strongly consistent read if the item changed under us.
        for _ in 0..2 {
            let outcome = match &holder {
                Holder::Utokyo(a) => self.invalidate_right(a).await?,
                Holder::Workshop(w) => self.expire_workshop(w).await?,
            };
            match outcome {
                Some(handled) => return Ok(handled),
                None => match self.deps.store.holder(holder.realm(), holder.id()).await? {
                    Some(fresh) => holder = fresh,
                    None => return Ok(Handled::Skipped),
                },
            }
        }
        Ok(Handled::Failed(RunFailure {
            account: holder.id().to_owned(),
            kind: "sweep".into(),
            error: "changed during the sweep; next run".into(),
        }))
    }

    async fn remaining(&self) -> Result<(u64, usize), ApiError> {
        self.deps.store.count_due(&self.deps.store.due_sweeps(self.today)).await
    }
}

impl DailySweep<'_> {
    /// R-SWEEP-1, R-RA-3: a right whose stop date or last day has come is invalidated; remote
    /// access goes off and the counter down with it; the ECCS servers and the gateway are told.
    /// `None`: the account changed since it was read.
    async fn invalidate_right(&self, account: &Account) -> Result<Option<Handled>, ApiError> {
        let (deps, ctx, store) = (&self.deps, self.ctx, self.deps.store);
        let key = accounts::key(Realm::Utokyo, &account.id);
        let pinned = pin_right(account);
        if account.right_until.is_none() || account.right_valid(self.today) {
            // Still valid (a new right was granted): only the index entry was stale.
            let expr = with_sweep(pinned.1, account.sweep_on());
            let mut tx = Tx::upkeep(deps, ctx);
            tx.push(tx::update(&store.tables.accounts, key, Some(&pinned.0), expr)?);
            return Ok(tx.try_commit().await?.ok().map(|()| Handled::Skipped));
        }
        let expr = with_sweep(pinned.1, None).remove("right_until").remove("right_stop_on").set("remote_access = :off");
        let mut tx = Tx::new(deps, ctx, &self.actor);
        tx.push(tx::update(&store.tables.accounts, key, Some(&pinned.0), expr.value(":off", b(false)))?);
        if account.remote_access {
            tx.push(one_user_fewer(store)?);
        }
        let mut off = vec![Change::switch(&account.id, ChangeKind::Eccs, false, ctx.now)];
        if account.remote_access {
            off.push(Change::switch(&account.id, ChangeKind::RemoteAccess, false, ctx.now));
        }
        tx.provision(off)?;
        tx.audit(AuditRecord::new(ctx, &self.actor, &account.key(), "right.invalidated").change(
            json!({ "right_until": account.right_until, "stop_on": account.right_stop_on, "remote_access": account.remote_access }),
            json!({ "valid": false, "remote_access": false }),
        ))?;
        Ok(tx.try_commit().await?.ok().map(|()| Handled::Applied))
    }

    /// R-SWEEP-1: a workshop account past its valid_until expires.
    async fn expire_workshop(&self, account: &WorkshopAccount) -> Result<Option<Handled>, ApiError> {
        let store = self.deps.store;
        let key = accounts::key(Realm::Workshop, &account.id);
        let condition = "#status = :active AND valid_until = :valid_until";
        let pin = Expr::new()
            .name("#status", "status")
            .value(":active", s("active"))
            .value(":valid_until", s(account.valid_until.to_string()));
        let due = account.status == Status::Active && account.valid_until < self.today;
        let mut tx = if due { Tx::new(&self.deps, self.ctx, &self.actor) } else { Tx::upkeep(&self.deps, self.ctx) };
        if due {
            tx.push(tx::update(
                &store.tables.accounts,
                key,
                Some(condition),
                with_sweep(pin, None).set("#status = :expired").value(":expired", s("expired")),
            )?);
            tx.audit(AuditRecord::new(self.ctx, &self.actor, &account.key(), "workshop.expired").change(
                json!({ "status": "active", "valid_until": account.valid_until }),
                json!({ "status": "expired" }),
            ))?;
        } else {
            // Not due yet (its valid_until moved): put the index entry right.
            let on = if account.status == Status::Active { account.sweep_on() } else { None };
            tx.push(tx::update(
                &store.tables.accounts,
                key,
                Some("valid_until = :valid_until"),
                with_sweep(Expr::new().value(":valid_until", s(account.valid_until.to_string())), on),
            )?);
        }
        Ok(tx.try_commit().await?.ok().map(|()| if due { Handled::Applied } else { Handled::Skipped }))
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
/// accounts past their valid_until; then the day's notices (R-LC-5), the links not used in time
/// (R-LC-6..7) and the mail — all within the one budget and deadline.
pub async fn sweep(deps: &Deps<'_>, ctx: &Ctx, limits: Limits, settings: &RunSettings) -> Result<RunSummary, ApiError> {
    let actor = format!("system:{SWEEP}");
    let today = ctx.today();
    let mut run = Run::new(ctx, SWEEP, limits);
    let tally = run.drive(&DailySweep { deps: *deps, ctx, today, actor: actor.clone() }, true).await?;
    (run.summary.applied, run.summary.failed, run.summary.failures) = (tally.applied, tally.failed, tally.failures);
    run.summary.notices_queued =
        run.drive(&QueueNotices { deps: *deps, ctx, today, actor: actor.clone() }, false).await?.applied;
    run.summary.links_expired = run.drive(&ExpireLinks { deps: *deps, ctx, actor }, false).await?.applied;
    run.send_mail(deps).await?;
    run.finish(deps, settings).await
}

// ---------------------------------------------------------------- what the runs carry along

/// R-LC-5: the notices due today, for the accounts whose valid_until or right_until is within
/// the next 30 days — one query per index and day; a notice queued before is not queued again.
struct QueueNotices<'a> {
    deps: Deps<'a>,
    ctx: &'a Ctx,
    today: NaiveDate,
    actor: String,
}

impl QueueNotices<'_> {
    /// The queries, in order: (is it the right's, the day, the notice).
    fn queries(&self) -> Vec<(bool, NaiveDate, NoticeKind)> {
        [(false, NoticeKind::AccountRevocation), (true, NoticeKind::RightExpiry)]
            .into_iter()
            .flat_map(|(right, kind)| {
                (0..=notices::NOTICE_DAYS).map(move |d| (right, self.today + chrono::Duration::days(d), kind))
            })
            .collect()
    }
}

#[async_trait]
impl Job for QueueNotices<'_> {
    type Due = (Holder, NaiveDate, NoticeKind);
    /// Which query, and where in it.
    type Cursor = (usize, Option<Item>);

    async fn page(
        &self,
        limit: usize,
        cursor: Option<(usize, Option<Item>)>,
    ) -> Result<(Vec<Self::Due>, Option<(usize, Option<Item>)>, usize), ApiError> {
        let queries = self.queries();
        let (at, start) = cursor.unwrap_or((0, None));
        let Some(&(right, date, kind)) = queries.get(at) else { return Ok((vec![], None, 0)) };
        let (items, next, read) =
            self.deps.store.due_page(&self.deps.store.ending_on(right, date), limit, start).await?;
        let due = items.into_iter().map(|i| holder_from_item(i).map(|h| (h, date, kind))).collect::<Result<_, _>>()?;
        let cursor = match next {
            Some(key) => Some((at, Some(key))),
            None if at + 1 < queries.len() => Some((at + 1, None)),
            None => None,
        };
        Ok((due, cursor, read))
    }

    async fn handle(&self, (holder, date, kind): Self::Due) -> Result<Handled, ApiError> {
        let Holder::Utokyo(account) = holder else { return Ok(Handled::Skipped) };
        if notices::due_notice(&account, kind, self.today) != Some(date) {
            return Ok(Handled::Skipped);
        }
        let queued = super::outbox::queue_notice(&self.deps, self.ctx, &self.actor, &account, kind, date).await?;
        Ok(if queued { Handled::Applied } else { Handled::Skipped })
    }
}

/// R-LC-6..7: the invitation and confirmation links not used in time.
struct ExpireLinks<'a> {
    deps: Deps<'a>,
    ctx: &'a Ctx,
    actor: String,
}

#[async_trait]
impl Job for ExpireLinks<'_> {
    type Due = ServiceRecord;
    type Cursor = Item;

    async fn page(
        &self,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<ServiceRecord>, Option<Item>, usize), ApiError> {
        due_page(&self.deps, &self.deps.store.expired_links(self.ctx.now), limit, start).await
    }

    async fn handle(&self, record: ServiceRecord) -> Result<Handled, ApiError> {
        let expired = super::services::expire_link(&self.deps, self.ctx, &self.actor, &record).await?;
        Ok(if expired { Handled::Applied } else { Handled::Skipped })
    }
}

/// The outbox's mail due by now: sent, or its failure recorded for a later try.
struct SendMail<'a> {
    deps: Deps<'a>,
    ctx: &'a Ctx,
    mailer: &'a dyn super::Mailer,
}

#[async_trait]
impl Job for SendMail<'_> {
    type Due = OutboxMessage;
    type Cursor = Item;

    async fn page(
        &self,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<OutboxMessage>, Option<Item>, usize), ApiError> {
        due_page(&self.deps, &self.deps.store.due_mail(self.ctx.now), limit, start).await
    }

    async fn handle(&self, message: OutboxMessage) -> Result<Handled, ApiError> {
        Ok(if super::outbox::send_one(&self.deps, self.ctx, self.mailer, &message).await? {
            Handled::Applied
        } else {
            Handled::Failed(RunFailure {
                account: message.account.clone(),
                kind: "mail".into(),
                error: "not sent".into(),
            })
        })
    }
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
    deps: &Deps<'_>,
    settings: &RunSettings,
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
    let ctx = Ctx::for_schedule(deps.clock.now(), name, event.execution_id.or(invocation.request_id));
    let budget = event.item_budget.or(settings.item_budget).unwrap_or(usize::MAX);
    let limits = Limits { item_budget: budget, deadline: invocation.deadline };
    let summary = match which {
        Which::Sync => sync(deps, &ctx, limits, settings).await?,
        Which::Sweep => sweep(deps, &ctx, limits, settings).await?,
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
