//! Applications as transactions (R-APP-USE-1, R-APP-SUS-1..2, R-APP-PROXY-1..3): the right on
//! the account (with conditions that pin what the rules checked), the ECCS provisioning change,
//! the application record under each account it concerns, and the audit record — all or nothing.
//! Two simultaneous usage applications for one account (own and proxy): exactly one succeeds.
//!
//! When a condition fails, the account as it was is run through the same pure check again, so
//! the answer is the rule's own code.

use serde_json::json;

use crate::ctx::Ctx;
use crate::domain::account::{Account, Realm};
use crate::domain::application::{self, Application, ApplicationType, Closed};
use crate::error::ApiError;
use crate::store::accounts::{self, with_sweep};
use crate::store::audit::AuditRecord;
use crate::store::changes::{Change, ChangeKind};
use crate::store::tx::{self, Expr, Refusal};
use crate::store::{Store, from_item, s, to_item};
use crate::usecase::Deps;
use crate::usecase::unit::Tx;

/// The condition "no valid right today" on an account item.
const NO_VALID_RIGHT: &str = "(attribute_not_exists(right_until) OR right_until < :today \
     OR (attribute_exists(right_stop_on) AND right_stop_on <= :today))";

/// The update that grants the right to `target` until its valid_until, with its conditions:
/// active, still valid until the same day, no valid right today.
fn grant(
    store: &Store,
    ctx: &Ctx,
    target: &Account,
    extra_condition: &str,
    expr: Expr,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, ApiError> {
    let mut granted = target.clone();
    granted.right_until = Some(target.valid_until);
    granted.right_stop_on = None;
    let condition = format!(
        "#status = :active AND valid_until = :valid_until AND valid_until >= :today AND {NO_VALID_RIGHT}{extra_condition}"
    );
    let expr = with_sweep(expr, granted.sweep_on())
        .name("#status", "status")
        .set("right_until = :valid_until")
        .remove("right_stop_on")
        .value(":active", s("active"))
        .value(":valid_until", s(target.valid_until.to_string()))
        .value(":today", s(ctx.today().to_string()));
    tx::update(&store.tables.accounts, accounts::key(Realm::Utokyo, &target.id), Some(&condition), expr)
}

/// The account as it was when its condition failed, re-checked by `check`.
fn explain(refusal: &Refusal, i: usize, check: impl Fn(&Account) -> Result<(), ApiError>) -> ApiError {
    match refusal.item(i).cloned().map(from_item::<Account>) {
        Some(Ok(account)) => match check(&account) {
            Err(e) => e,
            // The rule holds now: another change raced this one; the client may retry.
            Ok(()) => ApiError::ServiceUnavailable { retry_after: 1 },
        },
        _ => ApiError::Unauthorized,
    }
}

/// R-APP-USE-1: a faculty or staff member applies for their own right.
pub async fn apply_usage(deps: &Deps<'_>, ctx: &Ctx, account: &Account) -> Result<Application, ApiError> {
    let today = ctx.today();
    account.check_usage_application(today)?;
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(grant(
        store,
        ctx,
        account,
        " AND #kind IN (:faculty, :staff)",
        Expr::new().name("#kind", "kind").value(":faculty", s("faculty")).value(":staff", s("staff")),
    )?);
    tx.provision(vec![Change::switch(&account.id, ChangeKind::Eccs, true, ctx.now)])?;
    let record = Application::new(ApplicationType::EccsUsage, &account.id, &account.id, None, today, ctx.now);
    tx.push(tx::put(&store.tables.applications, to_item(&record)?, None, Expr::new())?);
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "application.eccs_usage").change(
        account.right_summary(today),
        json!({ "valid": true, "valid_until": account.valid_until, "application": record.id }),
    ))?;
    match tx.try_commit().await? {
        Ok(()) => Ok(record),
        Err(r) => Err(explain(&r, 0, |a| a.check_usage_application(today))),
    }
}

/// R-APP-SUS-1..2: records a suspension; the right stops on `effective_on`, when the daily sweep
/// of that day invalidates it.
pub async fn apply_suspension(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &Account,
    stop_date: chrono::NaiveDate,
) -> Result<Application, ApiError> {
    let today = ctx.today();
    account.check_suspension_application(today)?;
    let effective_on = application::check_stop_date(account, stop_date, today)?;
    let store = deps.store;
    let mut stopped = account.clone();
    stopped.right_stop_on = Some(effective_on);
    let right_until = account.right_until.map(|d| d.to_string()).unwrap_or_default();
    // The stop date as read is pinned: of two suspensions sent at once, one is accepted and the
    // other replaces it or is told to retry — never two open at once.
    let pinned = match account.right_stop_on {
        Some(_) => "right_stop_on = :old_stop",
        None => "attribute_not_exists(right_stop_on)",
    };
    let condition = format!(
        "#status = :active AND #kind IN (:faculty, :staff) AND right_until = :right_until \
         AND right_until >= :today AND (attribute_not_exists(right_stop_on) OR right_stop_on > :today) AND {pinned}"
    );
    let expr = with_sweep(Expr::new(), stopped.sweep_on())
        .name("#status", "status")
        .name("#kind", "kind")
        .set("right_stop_on = :effective_on")
        .value(":active", s("active"))
        .value(":faculty", s("faculty"))
        .value(":staff", s("staff"))
        .value(":right_until", s(right_until))
        .value(":today", s(today.to_string()))
        .value(":effective_on", s(effective_on.to_string()));
    let expr = match account.right_stop_on {
        Some(old) => expr.value(":old_stop", s(old.to_string())),
        None => expr,
    };
    let record = Application::new(
        ApplicationType::EccsSuspension,
        &account.id,
        &account.id,
        Some(stop_date),
        effective_on,
        ctx.now,
    );
    // R-APP-SUS-3: a suspension still waiting for its day is replaced by this one.
    let replaced: Vec<Application> = store
        .applications_of(&account.id, 50)
        .await?
        .into_iter()
        .filter(|a| a.applicant == account.id && a.is_open_suspension(today))
        .collect();
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::update(&store.tables.accounts, accounts::key(Realm::Utokyo, &account.id), Some(&condition), expr)?);
    tx.push(tx::put(&store.tables.applications, to_item(&record)?, None, Expr::new())?);
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "application.eccs_suspension").change(
        account.right_summary(today),
        json!({
            "stop_on": effective_on, "stop_date": stop_date, "application": record.id,
            "replaces": replaced.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        }),
    ))?;
    for old in &replaced {
        tx.push(close(store, old, Closed::Replaced, Some(&record.id))?);
    }
    match tx.try_commit().await? {
        Ok(()) => Ok(record),
        Err(r) if r.failed(0) => Err(explain(&r, 0, |a| {
            a.check_suspension_application(today)?;
            application::check_stop_date(a, stop_date, today).map(|_| ())
        })),
        // An earlier suspension closed by another request meanwhile: the client may retry.
        Err(_) => Err(ApiError::ServiceUnavailable { retry_after: 1 }),
    }
}

/// The update closing an open application record (withdrawn or replaced), if still open.
fn close(
    store: &Store,
    application: &Application,
    how: Closed,
    replaced_by: Option<&str>,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, ApiError> {
    let mut expr = Expr::new().set("closed = :closed").value(":closed", s(how.as_str()));
    if let Some(id) = replaced_by {
        expr = expr.set("replaced_by = :by").value(":by", s(id));
    }
    let key = aws_sdk_dynamodb::types::AttributeValue::S(application.pk.clone());
    tx::update(
        &store.tables.applications,
        crate::store::Item::from([("pk".to_owned(), key), ("sk".to_owned(), s(application.sk.clone()))]),
        Some("attribute_exists(pk) AND attribute_not_exists(closed)"),
        expr,
    )
}

/// R-APP-SUS-3: the applicant withdraws a suspension that the sweep has not applied yet; the
/// right then stays as it was (no stop date), and the history shows it withdrawn.
pub async fn withdraw(deps: &Deps<'_>, ctx: &Ctx, account: &Account, id: &str) -> Result<Application, ApiError> {
    let today = ctx.today();
    let store = deps.store;
    let found = store.applications_of(&account.id, 100).await?.into_iter().find(|a| a.id == id);
    let Some(application) = found.filter(|a| a.applicant == account.id) else {
        return Err(ApiError::ApplicationNotFound);
    };
    if !application.is_open_suspension(today) {
        return Err(ApiError::AlreadyApplied);
    }
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(close(store, &application, Closed::Withdrawn, None)?);
    // The one in force on the account (an older one, from before replacements were recorded,
    // may not be): its stop date goes, and the sweep index follows the right's natural end.
    let in_force = account.right_stop_on == Some(application.effective_on);
    if in_force {
        let mut kept = account.clone();
        kept.right_stop_on = None;
        tx.push(tx::update(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &account.id),
            Some("right_stop_on = :on AND right_stop_on > :today"),
            with_sweep(Expr::new(), kept.sweep_on())
                .remove("right_stop_on")
                .value(":on", s(application.effective_on.to_string()))
                .value(":today", s(today.to_string())),
        )?);
    }
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "application.withdrawn")
            .change(
                json!({ "application": application.id, "status": application.status(today), "stop_on": account.right_stop_on }),
                json!({ "application": application.id, "status": "withdrawn", "stop_on": if in_force { None } else { account.right_stop_on } }),
            ))?;
    match tx.try_commit().await? {
        Ok(()) => Ok(Application { closed: Some(Closed::Withdrawn), ..application }),
        // Applied by the sweep, or closed by another request meanwhile.
        Err(_) => Err(ApiError::AlreadyApplied),
    }
}

/// R-APP-PROXY-1..3: a proxy-permission holder gives the right to `target_id`.
pub async fn apply_proxy(
    deps: &Deps<'_>,
    ctx: &Ctx,
    holder: &Account,
    target_id: &str,
) -> Result<Application, ApiError> {
    let target_id = &crate::domain::typed::identifier(target_id);
    let today = ctx.today();
    holder.check_proxy_permission()?;
    let target = deps.store.account(target_id).await?;
    application::check_proxy_target(holder, target.as_ref(), today)?;
    let Some(target) = target else {
        return Err(ApiError::TargetNotFoundOrNotEligible);
    };
    let store = deps.store;
    let dept = target.department.code.clone();
    // The holder still holds a permission that covers the target's department; when holder and
    // target are one account, that condition joins the grant (a transaction touches an item once).
    let permission = "#status = :active AND #kind IN (:faculty, :staff) \
                      AND (contains(proxy_scope, :dept) OR contains(proxy_scope, :all))";
    let permission_values = |expr: Expr| {
        expr.name("#status", "status")
            .name("#kind", "kind")
            .value(":active", s("active"))
            .value(":faculty", s("faculty"))
            .value(":staff", s("staff"))
            .value(":dept", s(dept.clone()))
            .value(":all", s("*"))
    };
    let same_account = holder.id == target.id;
    let mut tx = Tx::new(deps, ctx, &holder.key());
    if !same_account {
        // 0: the holder.
        tx.push(tx::check(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &holder.id),
            permission,
            permission_values(Expr::new()),
        )?);
    }
    // The target, still in the same department.
    let extra = if same_account {
        format!(" AND #department.#code = :dept AND {permission}")
    } else {
        " AND #department.#code = :dept".to_owned()
    };
    let expr = Expr::new().name("#department", "department").name("#code", "code");
    let expr = if same_account { permission_values(expr) } else { expr.value(":dept", s(dept.clone())) };
    tx.push(grant(store, ctx, &target, &extra, expr)?);
    tx.provision(vec![Change::switch(&target.id, ChangeKind::Eccs, true, ctx.now)])?;
    let record = Application::new(ApplicationType::EccsProxy, &holder.id, &target.id, None, today, ctx.now);
    tx.push(tx::put(&store.tables.applications, to_item(&record)?, None, Expr::new())?);
    if holder.id != target.id {
        tx.push(tx::put(&store.tables.applications, to_item(&record.copy_for(&holder.id))?, None, Expr::new())?);
    }
    tx.audit(
        AuditRecord::new(ctx, &holder.key(), &target.key(), "application.eccs_proxy")
            .on_behalf_of(&target.key())
            .change(
                target.right_summary(today),
                json!({ "valid": true, "valid_until": target.valid_until, "application": record.id }),
            ),
    )?;
    match tx.try_commit().await? {
        Ok(()) => Ok(record),
        Err(r) if !same_account && r.failed(0) => Err(ApiError::ProxyPermissionRequired),
        Err(_) => Err(ApiError::TargetNotFoundOrNotEligible),
    }
}
