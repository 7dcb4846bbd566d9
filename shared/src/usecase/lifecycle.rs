//! The lifecycle's transactions (R-LC-1..4): importing the registrar's accounts, activation keys
//! (issue, extend, activate), identity verification and renewals — each change one transaction
//! with its audit record; keys never stored or logged, only their hash.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::domain::account::{Account, Kind, Lock, Realm, Status};
use crate::domain::enrolment::{self, ImportRecord, InPersonCheck};
use crate::domain::secret;
use crate::domain::time;
use crate::error::ApiError;
use crate::store::accounts::{self, account_item, with_sweep};
use crate::store::audit::AuditRecord;
use crate::store::changes::{Change, ChangeKind};
use crate::store::login::Windows;
use crate::store::tx::{self, Expr};
use crate::store::{b, s, to_av};
use crate::usecase::Deps;
use crate::usecase::unit::Tx;

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportSummary {
    /// New accounts, with the activation key to print (shown this once) and its expiry.
    pub created: Vec<(String, String, DateTime<Utc>)>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    /// Accounts that changed while being imported: importing the file again finishes them.
    pub conflicts: Vec<String>,
}

impl ImportSummary {
    pub fn view(&self) -> Value {
        json!({
            "created": self.created.len(),
            "updated": self.updated.len(),
            "unchanged": self.unchanged,
            "conflicts": self.conflicts,
            "activation_keys": self.created.iter().map(|(id, key, until)| json!({
                "account": id, "activation_key": key, "expires_at": time::rfc3339(*until),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The registrar's fields of an account, for comparing and for the audit record.
fn registrar_view(a: &Account) -> Value {
    json!({
        "kind": a.kind, "name": a.name, "department": a.department, "valid_from": a.valid_from,
        "valid_until": a.valid_until, "status": a.status, "right_until": a.right_until,
    })
}

/// BatchGetItem's limit of keys per call.
const BATCH_KEYS: usize = 100;

/// R-LC-1, R-LC-2: upserts every record, one transaction each; the accounts are read 100 to a
/// BatchGetItem, not one GetItem each.
pub async fn import(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    records: Vec<ImportRecord>,
) -> Result<ImportSummary, ApiError> {
    let mut summary = ImportSummary::default();
    for chunk in records.chunks(BATCH_KEYS) {
        let keys: Vec<(&str, crate::store::Item)> =
            chunk.iter().map(|r| (deps.store.tables.accounts.as_str(), accounts::key(Realm::Utokyo, &r.id))).collect();
        let found = deps.store.batch_get(&keys).await?;
        for (record, item) in chunk.iter().zip(found) {
            let existing = match item.map(accounts::holder_from_item).transpose()? {
                Some(crate::domain::account::Holder::Utokyo(a)) => Some(*a),
                _ => None,
            };
            match existing {
                None => {
                    let (key, until) = create(deps, ctx, operator, record).await?;
                    summary.created.push((record.id.clone(), key, until));
                }
                Some(existing) => match update(deps, ctx, operator, &existing, record).await? {
                    Some(true) => summary.updated.push(record.id.clone()),
                    Some(false) => summary.unchanged += 1,
                    None => summary.conflicts.push(record.id.clone()),
                },
            }
        }
    }
    Ok(summary)
}

async fn create(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    record: &ImportRecord,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let key = enrolment::new_activation_key()?;
    let until = enrolment::key_expiry(ctx.now, record.valid_from);
    let mut account = record.account(deps.mail_domain);
    account.activation_key_hash = Some(secret::key_hash(&key));
    account.activation_expires_at = Some(until);
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, &operator.key());
    tx.push(tx::put(&store.tables.accounts, account_item(&account)?, Some("attribute_not_exists(pk)"), Expr::new())?);
    // The mail system learns the address, the ECCS servers a student's right.
    let mut address = Change::pending(&account.id, ChangeKind::MailAddress, ctx.now, ctx.now);
    address.address = Some(account.mail_address.clone());
    let mut provisioning = vec![address];
    if account.right_valid(ctx.today()) {
        provisioning.push(Change::switch(&account.id, ChangeKind::Eccs, true, ctx.now));
    }
    tx.provision(provisioning)?;
    tx.audit(
        AuditRecord::new(ctx, &operator.key(), &account.key(), "account.imported")
            .change(Value::Null, registrar_view(&account)),
    )?;
    // Refused: created meanwhile by another import; the caller imports again to update it.
    tx.commit_or(ApiError::ServiceUnavailable { retry_after: 1 }).await?;
    Ok((key, until))
}

/// `Some(true)` updated, `Some(false)` nothing to change, `None` changed meanwhile.
async fn update(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    existing: &Account,
    record: &ImportRecord,
) -> Result<Option<bool>, ApiError> {
    let mut next = existing.clone();
    next.kind = record.kind;
    next.name = record.name();
    next.department = record.department();
    next.valid_from = record.valid_from;
    next.valid_until = record.valid_until;
    next.birth_date = record.birth_date.or(existing.birth_date);
    next.phone = record.phone.clone().or_else(|| existing.phone.clone());
    // A returning student (or a person whose account lapsed) is active again, with the same id.
    if record.valid_until >= ctx.today() {
        next.status = Status::Active;
    }
    // R-LC-2: a student's right follows the enrolment; a faculty or staff right stays as it is.
    if next.kind == Kind::Student && next.right_stop_on.is_none() {
        next.right_until = Some(record.valid_until);
    }
    if registrar_view(&next) == registrar_view(existing)
        && next.birth_date == existing.birth_date
        && next.phone == existing.phone
    {
        return Ok(Some(false));
    }
    let store = deps.store;
    let pin = "#status = :old_status AND valid_until = :old_valid_until AND #kind = :old_kind";
    let mut condition = pin.to_owned();
    let mut expr = Expr::new()
        .name("#status", "status")
        .name("#kind", "kind")
        .name("#name", "name")
        .value(":old_status", to_av(&existing.status)?)
        .value(":old_valid_until", s(existing.valid_until.to_string()))
        .value(":old_kind", to_av(&existing.kind)?)
        .set("#kind = :kind")
        .set("#name = :name")
        .set("department = :department")
        .set("valid_from = :valid_from")
        .set("valid_until = :valid_until")
        .set("#status = :status")
        .value(":kind", to_av(&next.kind)?)
        .value(":name", to_av(&next.name)?)
        .value(":department", to_av(&next.department)?)
        .value(":valid_from", s(next.valid_from.to_string()))
        .value(":valid_until", s(next.valid_until.to_string()))
        .value(":status", to_av(&next.status)?);
    if let Some(d) = next.birth_date {
        expr = expr.set("birth_date = :birth_date").value(":birth_date", s(d.to_string()));
    }
    if let Some(p) = &next.phone {
        expr = expr.set("phone = :phone").value(":phone", s(p.clone()));
    }
    if next.right_until != existing.right_until {
        if let Some(until) = next.right_until {
            expr = expr.set("right_until = :right_until").value(":right_until", s(until.to_string()));
        }
        condition.push_str(match existing.right_until {
            Some(_) => " AND right_until = :old_right_until",
            None => " AND attribute_not_exists(right_until)",
        });
        if let Some(old) = existing.right_until {
            expr = expr.value(":old_right_until", s(old.to_string()));
        }
        expr = with_sweep(expr, next.sweep_on());
    }
    let mut tx = Tx::new(deps, ctx, &operator.key());
    tx.push(tx::update(&store.tables.accounts, accounts::key(Realm::Utokyo, &existing.id), Some(&condition), expr)?);
    let today = ctx.today();
    if next.right_valid(today) && !existing.right_valid(today) {
        tx.provision(vec![Change::switch(&existing.id, ChangeKind::Eccs, true, ctx.now)])?;
    }
    tx.audit(
        AuditRecord::new(ctx, &operator.key(), &existing.key(), "account.updated")
            .change(registrar_view(existing), registrar_view(&next)),
    )?;
    Ok(tx.try_commit().await?.ok().map(|()| true))
}

/// R-LC-3, R-LC-4: issues a new key (the old one stops working). For an activated account this
/// is a password reset, which needs an in-person check or the verified identity verification
/// link of R-CRED-4 (an OpenID Connect sign-in made the link; the old self-set flag waives
/// nothing).
pub async fn issue_key(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    target: &Account,
    check: Option<InPersonCheck>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let reset = target.initial_password_changed;
    if reset && check.is_none() && target.identity.is_none() {
        return Err(ApiError::IdentityVerificationRequired);
    }
    let key = enrolment::new_activation_key()?;
    let until = enrolment::key_expiry(ctx.now, target.valid_from);
    let expr = Expr::new()
        .set("activation_key_hash = :hash")
        .set("activation_expires_at = :until")
        .value(":hash", s(secret::key_hash(&key)))
        .value(":until", s(time::stamp(until)));
    let verification = match &check {
        Some(c) => json!({ "in_person_check": { "document": c.document, "checked_by": operator.id } }),
        None if reset => json!({ "identity_link": target.identity.as_ref().map(|l| l.issuer.clone()) }),
        None => Value::Null,
    };
    operator_update(
        deps,
        ctx,
        operator,
        target,
        expr,
        if reset { "activation_key.reset" } else { "activation_key.issued" },
        (
            json!({ "activation_expires_at": target.activation_expires_at.map(time::rfc3339) }),
            json!({ "activation_expires_at": time::rfc3339(until), "verification": verification }),
        ),
    )
    .await?;
    Ok((key, until))
}

/// R-LC-3: extends the outstanding key by `days`: from its current expiry, or from now for a
/// key that has already expired.
pub async fn extend_key(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    target: &Account,
    days: i64,
) -> Result<DateTime<Utc>, ApiError> {
    let Some(hash) = &target.activation_key_hash else { return Err(ApiError::NoActivationKey) };
    let from = target.activation_expires_at.filter(|until| *until > ctx.now).unwrap_or(ctx.now);
    let until = from + Duration::days(days.clamp(1, enrolment::KEY_MAX_EXTEND_DAYS));
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, &operator.key());
    tx.push(tx::update(
        &store.tables.accounts,
        accounts::key(Realm::Utokyo, &target.id),
        Some("activation_key_hash = :hash"),
        Expr::new()
            .set("activation_expires_at = :until")
            .value(":hash", s(hash.clone()))
            .value(":until", s(time::stamp(until))),
    )?);
    tx.audit(AuditRecord::new(ctx, &operator.key(), &target.key(), "activation_key.extended").change(
        json!({ "activation_expires_at": target.activation_expires_at.map(time::rfc3339) }),
        json!({ "activation_expires_at": time::rfc3339(until) }),
    ))?;
    tx.commit_or(ApiError::NoActivationKey).await?;
    Ok(until)
}

/// R-LC-3: account id + key + new password. A wrong, expired or used key counts toward the
/// R-LOGIN-3 limit and gets one answer.
pub async fn activate(deps: &Deps<'_>, ctx: &Ctx, id: &str, key: &str, new_password: String) -> Result<(), ApiError> {
    let (id, key) = (&crate::domain::typed::identifier(id), &crate::domain::typed::identifier(key));
    if !Realm::Utokyo.is_valid_id(id) {
        return Err(ApiError::InvalidActivationKey);
    }
    let windows = Windows::new(&crate::domain::account::account_key(Realm::Utokyo, id), &ctx.source_ip);
    let (reserved, found) = tokio::join!(deps.store.reserve_attempt(&windows, ctx.now), deps.store.account(id));
    reserved?;
    // R-SEC-3, R-SEC-4: a key works only while the account is usable (active, within its
    // dates, not locked).
    let account = match found? {
        Some(a)
            if a.is_usable(ctx.today())
                && a.activation_expires_at.is_some_and(|until| until > ctx.now)
                && a.activation_key_hash.as_deref().is_some_and(|h| secret::key_matches(key, h)) =>
        {
            a
        }
        _ => return Err(ApiError::InvalidActivationKey),
    };
    let store = deps.store;
    let phc = match crate::usecase::session::hash_new_password(&account, new_password).await {
        Ok(phc) => phc,
        Err(e) => {
            // The key was right: a password the policy refuses is no guess, and the person who
            // tries another is not locked out for it (R-LOGIN-3 counts keys, not passwords).
            if matches!(e, ApiError::PasswordPolicy { .. })
                && let Err(released) = store.release_attempt(&windows).await
            {
                // The person still gets the rules the password breaks; the place passes by itself.
                tracing::warn!(error = %released, "failure window not released; it passes by itself");
            }
            return Err(e);
        }
    };
    let hash = account.activation_key_hash.clone().unwrap_or_default();
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::update(
        &store.tables.accounts,
        accounts::key(Realm::Utokyo, id),
        Some("activation_key_hash = :key"),
        Expr::new()
            .set("password_hash = :phc")
            .set("initial_password_changed = :true")
            // A reset ends every session of whoever knew the old password (R-SEC-1).
            .set("credentials_version = if_not_exists(credentials_version, :zero) + :one")
            .set("credentials_changed_at = :now")
            .remove("activation_key_hash")
            .remove("activation_expires_at")
            .value(":zero", crate::store::n(0))
            .value(":one", crate::store::n(1))
            .value(":now", s(time::stamp(ctx.now)))
            .value(":key", s(hash))
            .value(":phc", s(phc))
            .value(":true", b(true)),
    )?);
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "account.activated").change(
        json!({ "initial_password_changed": account.initial_password_changed }),
        json!({ "initial_password_changed": true }),
    ))?;
    // Refused: the key was used by a concurrent activation.
    tx.commit_or(ApiError::InvalidActivationKey).await?;
    store.release_attempt(&windows).await
}

/// R-LC-5: an operator records that a renewal was asked for (no expiry notices meanwhile), or
/// that it is settled.
pub async fn set_renewal_pending(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    target: &Account,
    pending: bool,
) -> Result<(), ApiError> {
    let expr = if pending {
        Expr::new().set("renewal_pending = :true").value(":true", b(true))
    } else {
        Expr::new().remove("renewal_pending")
    };
    operator_update(
        deps,
        ctx,
        operator,
        target,
        expr,
        "renewal.pending",
        (json!({ "renewal_pending": target.renewal_pending }), json!({ "renewal_pending": pending })),
    )
    .await
}

/// R-SEC-4: the help desk locks an account with a reason, or opens it again. A lock raises the
/// credentials version, so every token already issued stops working; login, links, keys and
/// activation refuse a locked account, and an import leaves the lock as it is.
pub async fn set_lock(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    target: &Account,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let lock = reason.map(|r| Lock { reason: r.to_owned(), by: operator.id.clone(), at: time::stamp(ctx.now) });
    let expr = match &lock {
        Some(l) => Expr::new()
            .name("#lock", "lock")
            .set("#lock = :lock")
            .set("credentials_version = if_not_exists(credentials_version, :zero) + :one")
            .set("credentials_changed_at = :now")
            .value(":lock", to_av(l)?)
            .value(":zero", crate::store::n(0))
            .value(":one", crate::store::n(1))
            .value(":now", s(time::stamp(ctx.now))),
        None => Expr::new().name("#lock", "lock").remove("#lock"),
    };
    let view = |l: &Option<Lock>| json!({ "locked": l.is_some(), "reason": l.as_ref().map(|l| &l.reason) });
    operator_update(
        deps,
        ctx,
        operator,
        target,
        expr,
        if lock.is_some() { "account.locked" } else { "account.unlocked" },
        (view(&target.lock), view(&lock)),
    )
    .await
}

/// What an operator sees of an account: everything but secrets.
pub fn operator_view(a: &Account, today: chrono::NaiveDate) -> Value {
    json!({
        "profile": a.profile(),
        "status": a.status,
        "right": a.right_summary(today),
        "remote_access": a.remote_access,
        "mail_address": a.mail_address,
        "mail_changed_at": a.mail_changed_at.map(time::rfc3339),
        "activation": {
            "outstanding": a.activation_key_hash.is_some(),
            "expires_at": a.activation_expires_at.map(time::rfc3339),
        },
        "identity": a.identity.as_ref().map(|l| json!({ "issuer": l.issuer, "linked_at": time::rfc3339(l.linked_at) })),
        "renewal_pending": a.renewal_pending,
        "second_factor": a.second_factor.as_ref().filter(|f| f.is_enrolled()).map(|f| json!({
            "enrolled_at": f.enrolled_at.as_deref().and_then(time::parse_stamp).map(time::rfc3339),
            "recovery_codes_left": f.recovery.len(),
        })),
        "lock": a.lock.as_ref().map(|l| json!({
            "reason": l.reason, "by": l.by, "at": time::parse_stamp(&l.at).map(time::rfc3339),
        })),
    })
}

/// An operator's change of `target`'s item, which must exist (404 otherwise), audited as `action`
/// with its (before, after).
async fn operator_update(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    target: &Account,
    expr: Expr,
    action: &str,
    (before, after): (Value, Value),
) -> Result<(), ApiError> {
    let audit = AuditRecord::new(ctx, &operator.key(), &target.key(), action).change(before, after);
    let mut tx = Tx::new(deps, ctx, &operator.key());
    tx.push(tx::update(
        &deps.store.tables.accounts,
        accounts::key(Realm::Utokyo, &target.id),
        Some("attribute_exists(pk)"),
        expr,
    )?);
    tx.audit(audit)?;
    tx.commit_or(ApiError::NotFound).await
}
