//! The `services` table: what a person asked for beyond the portal, one item per account and
//! service, with one-time links sent by mail.
//!
//! - **R-LC-6 Conferencing invitations** (seed 002): a holder of a cloud-mail address applies; an
//!   invitation is mailed to their cloud mail, valid 15 days; asking again sends a new one and the
//!   old link stops working; the daily sweep expires unused ones; accepting records the service
//!   account.
//! - **R-LC-7 Mail forwarding** (seed 001): a forwarding address takes effect only after the link
//!   mailed to that address is confirmed, and then like the other mail changes at the next minute 0
//!   (the hourly sync).
//!
//! Unused links sit in the sparse index `link-expiry` (`link_q`, `expires`) until they expire.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Deps;
use super::unit::Tx;
use crate::ctx::Ctx;
use crate::domain::account::{Account, Realm, account_key};
use crate::domain::notices::LinkMail;
use crate::domain::time;
use crate::domain::{enrolment, secret};
use crate::error::ApiError;
use crate::store::audit::AuditRecord;
use crate::store::changes::Change;
use crate::store::outbox::OutboxMessage;
use crate::store::services::{
    CONFERENCING, CONFIRMATION_DAYS, FORWARDING, FORWARDING_MAILS_PER_DAY, INVITATION_DAYS, LINK_Q, ServiceRecord,
    ServiceState,
};
use crate::store::tx::{self, Expr};
use crate::store::{Item, s, to_item};

/// A record with a fresh one-time link, and the link.
fn with_link(account: &str, service: &str, days: i64, now: DateTime<Utc>) -> Result<(ServiceRecord, String), ApiError> {
    let token = enrolment::new_link_token(account)?;
    let record = ServiceRecord {
        pk: account_key(Realm::Utokyo, account),
        sk: service.to_owned(),
        account: account.to_owned(),
        state: ServiceState::Invited,
        address: None,
        token_hash: Some(secret::key_hash(&token)),
        requested_at: now,
        expires: Some(now + Duration::days(days)),
        service_account: None,
        activated_at: None,
        link_q: Some(LINK_Q.into()),
    };
    Ok((record, token))
}

/// What a link mail says: until when the link works, and the portal page that opens it.
fn link_in_mail(deps: &Deps<'_>, record: &ServiceRecord, page: &str, token: &str) -> (String, String) {
    let until = record.expires.map(time::rfc3339).unwrap_or_default();
    (until, format!("{}/#/{page}/{token}", deps.portal_url.trim_end_matches('/')))
}

/// One mail per link: two links asked for in the same second still get two mails.
fn message_id(record: &ServiceRecord, kind: &str) -> String {
    let hash = record.token_hash.as_deref().unwrap_or_default();
    format!("{}#{kind}#{}", record.account, &hash[..hash.len().min(16)])
}

/// A link mail (the words are [`LinkMail`]'s) to `to`.
#[allow(clippy::too_many_arguments)]
fn link_message(
    ctx: &Ctx,
    record: &ServiceRecord,
    id_kind: &str,
    mail: LinkMail<'_>,
    account: &Account,
    to: &str,
    until: &str,
    link: &str,
) -> OutboxMessage {
    let (subject, body) = mail.message(account, until, link);
    OutboxMessage::new(message_id(record, id_kind), mail.kind(), &account.id, to, subject, body, ctx.now)
}

/// Commits the record, its mail and its audit record; then sends the mail at once.
async fn commit_with_mail(
    deps: &Deps<'_>,
    ctx: &Ctx,
    record: &ServiceRecord,
    message: OutboxMessage,
    audit: AuditRecord,
) -> Result<(), ApiError> {
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, &record.pk);
    tx.push(tx::put(&store.tables.services, to_item(record)?, None, Expr::new())?);
    tx.push(message.queue(store)?);
    tx.audit(audit)?;
    tx.commit_or(ApiError::ServiceUnavailable { retry_after: 1 }).await?;
    crate::usecase::outbox::send_now(deps, ctx, &message).await
}

/// R-LC-6: invites (or invites again) the caller to the conferencing service.
pub async fn invite(deps: &Deps<'_>, ctx: &Ctx, account: &Account) -> Result<ServiceRecord, ApiError> {
    account.check_cloud_mail()?;
    let existing = deps.store.service(&account.id, CONFERENCING).await?;
    if existing.as_ref().is_some_and(|r| r.state == ServiceState::Active) {
        return Err(ApiError::ServiceAlreadyActive);
    }
    let (record, token) = with_link(&account.id, CONFERENCING, INVITATION_DAYS, ctx.now)?;
    let (until, link) = link_in_mail(deps, &record, "accept", &token);
    let message =
        link_message(ctx, &record, "invitation", LinkMail::Invitation, account, &account.mail_address, &until, &link);
    let audit = AuditRecord::new(ctx, &account.key(), &account.key(), "service.invited").change(
        existing.as_ref().map(ServiceRecord::view).unwrap_or(Value::Null),
        json!({ "service": CONFERENCING, "state": "invited", "expires_at": until }),
    );
    commit_with_mail(deps, ctx, &record, message, audit).await?;
    Ok(record)
}

/// The open link a token opens, or the one answer for any other token.
async fn open_link(deps: &Deps<'_>, ctx: &Ctx, token: &str, service: &str) -> Result<ServiceRecord, ApiError> {
    let account = enrolment::link_token_account(token).ok_or(ApiError::LinkNotFoundOrExpired)?;
    match deps.store.service(account, service).await? {
        Some(r)
            if r.state == ServiceState::Invited
                && r.expires.is_some_and(|e| e > ctx.now)
                && r.token_hash.as_deref().is_some_and(|h| secret::key_matches(token, h)) =>
        {
            Ok(r)
        }
        _ => Err(ApiError::LinkNotFoundOrExpired),
    }
}

/// What closing a record's link adds to the update setting its new `#state`: the link's hash goes,
/// and so does its entry in the `link-expiry` index.
fn without_link(expr: Expr) -> Expr {
    expr.name("#state", "state").remove("token_hash").remove("link_q")
}

/// Closes a link: the new state, its audit record, and the caller's extra items, in one
/// transaction that holds only while the link is the one opened.
async fn close_link(
    deps: &Deps<'_>,
    ctx: &Ctx,
    record: &ServiceRecord,
    set: Expr,
    action: &str,
    after: Value,
    provision: Vec<Change>,
) -> Result<(), ApiError> {
    let store = deps.store;
    let expr = without_link(set).value(":hash", s(record.token_hash.clone().unwrap_or_default()));
    let mut tx = Tx::new(deps, ctx, &record.pk);
    tx.push(tx::update(
        &store.tables.services,
        ServiceRecord::key_of(&record.account, &record.sk),
        Some("token_hash = :hash"),
        expr,
    )?);
    // R-SEC-3, R-SEC-4: only while the account is active, within its dates and not locked.
    tx.push(crate::store::accounts::usable_check(store, &record.account, ctx.today(), record.requested_at)?);
    tx.provision(provision)?;
    tx.audit(AuditRecord::new(ctx, &record.pk, &record.pk, action).change(record.view(), after))?;
    tx.commit_or(ApiError::LinkNotFoundOrExpired).await
}

/// R-LC-6: accepting the invitation records the service account.
pub async fn accept(deps: &Deps<'_>, ctx: &Ctx, token: &str) -> Result<String, ApiError> {
    let record = open_link(deps, ctx, token, CONFERENCING).await?;
    let service_account = crate::domain::mail_address::initial_address(&record.account, deps.mail_domain);
    let set = Expr::new()
        .set("#state = :active")
        .set("service_account = :sa")
        .set("activated_at = :now")
        .value(":active", s("active"))
        .value(":sa", s(service_account.clone()))
        .value(":now", s(time::stamp(ctx.now)));
    let after = json!({ "service": CONFERENCING, "state": "active", "service_account": service_account });
    close_link(deps, ctx, &record, set, "service.activated", after, vec![]).await?;
    Ok(service_account)
}

/// R-LC-7: asks to forward cloud mail to `address` (already checked by
/// [`crate::domain::mail_address::forwarding_address`]); the link goes to that address, and a notice of the
/// request to the account's own cloud mail, so that a stolen session cannot quietly redirect it
/// (R-SEC-2). At most [`FORWARDING_MAILS_PER_DAY`] requests a day: the count is a conditional
/// update in the same transaction, kept in the `login-attempts` table (the service's rate
/// windows, with a TTL).
pub async fn request_forwarding(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &Account,
    address: &str,
) -> Result<ServiceRecord, ApiError> {
    account.check_cloud_mail()?;
    let (mut record, token) = with_link(&account.id, FORWARDING, CONFIRMATION_DAYS, ctx.now)?;
    record.address = Some(address.to_owned());
    let (until, link) = link_in_mail(deps, &record, "forwarding", &token);
    let confirmation =
        link_message(ctx, &record, "forwarding", LinkMail::ForwardingConfirmation, account, address, &until, &link);
    let notice = link_message(
        ctx,
        &record,
        "forwarding-notice",
        LinkMail::ForwardingRequested { address },
        account,
        &account.mail_address,
        &until,
        &link,
    );
    let audit = AuditRecord::new(ctx, &account.key(), &account.key(), "mail_forwarding.requested")
        .change(json!({ "forwarding": account.mail_forwarding }), json!({ "requested": address, "expires_at": until }));
    let store = deps.store;
    let today = ctx.today();
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::update(
        &store.tables.login_attempts,
        Item::from([("pk".to_owned(), s(format!("forwarding#{}#{today}", account.key())))]),
        Some("attribute_not_exists(pk) OR sent < :max"),
        Expr::new()
            .set("sent = if_not_exists(sent, :zero) + :one")
            .set("expires = :expires")
            .value(":zero", crate::store::n(0))
            .value(":one", crate::store::n(1))
            .value(":max", crate::store::n(FORWARDING_MAILS_PER_DAY))
            .value(":expires", crate::store::n((time::start_of_day(today) + Duration::days(2)).timestamp())),
    )?);
    tx.push(tx::put(&store.tables.services, to_item(&record)?, None, Expr::new())?);
    tx.push(confirmation.queue(store)?);
    tx.push(notice.queue(store)?);
    tx.audit(audit)?;
    match tx.try_commit().await? {
        Ok(()) => {}
        Err(r) if r.failed(0) => {
            let tomorrow = time::start_of_day(today + Duration::days(1));
            return Err(ApiError::TooManyRequests {
                retry_after: (tomorrow - ctx.now).num_seconds().max(1).unsigned_abs(),
            });
        }
        Err(_) => return Err(ApiError::ServiceUnavailable { retry_after: 1 }),
    }
    crate::usecase::outbox::send_now(deps, ctx, &confirmation).await?;
    crate::usecase::outbox::send_now(deps, ctx, &notice).await?;
    Ok(record)
}

/// R-LC-7: the link was opened at the address: forwarding is applied at the next minute 0.
pub async fn confirm_forwarding(deps: &Deps<'_>, ctx: &Ctx, token: &str) -> Result<(String, DateTime<Utc>), ApiError> {
    let record = open_link(deps, ctx, token, FORWARDING).await?;
    let address = record.address.clone().unwrap_or_default();
    let change = Change::mail_forwarding(&record.account, &address, ctx.now);
    let effective_at = change.effective_at;
    let set = Expr::new()
        .set("#state = :active")
        .set("activated_at = :now")
        .value(":active", s("active"))
        .value(":now", s(time::stamp(ctx.now)));
    let after = json!({ "forwarding": address, "effective_at": time::rfc3339(effective_at) });
    close_link(deps, ctx, &record, set, "mail_forwarding.confirmed", after, vec![change]).await?;
    Ok((address, effective_at))
}

/// R-LC-7: stops forwarding at the next minute 0.
pub async fn stop_forwarding(deps: &Deps<'_>, ctx: &Ctx, account: &Account) -> Result<DateTime<Utc>, ApiError> {
    account.check_cloud_mail()?;
    let store = deps.store;
    let change = Change::mail_forwarding(&account.id, "", ctx.now);
    let effective_at = change.effective_at;
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::check(
        &store.tables.accounts,
        crate::store::accounts::key(Realm::Utokyo, &account.id),
        "#status = :active",
        Expr::new().name("#status", "status").value(":active", s("active")),
    )?);
    tx.provision(vec![change])?;
    tx.push(tx::update(
        &store.tables.services,
        ServiceRecord::key_of(&account.id, FORWARDING),
        None,
        without_link(Expr::new().set("#state = :expired").value(":expired", s("expired")))
            .set("account = :account")
            .value(":account", s(account.id.clone()))
            .set("requested_at = :now")
            .value(":now", s(time::stamp(ctx.now))),
    )?);
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "mail_forwarding.stopped").change(
        json!({ "forwarding": account.mail_forwarding }),
        json!({ "forwarding": null, "effective_at": time::rfc3339(effective_at) }),
    ))?;
    tx.commit_or(ApiError::Unauthorized).await?;
    Ok(effective_at)
}

/// R-LC-6, R-LC-7: the daily sweep expires a link not used in time; false if it was used (or
/// sent again) meanwhile.
pub async fn expire_link(deps: &Deps<'_>, ctx: &Ctx, actor: &str, record: &ServiceRecord) -> Result<bool, ApiError> {
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, actor);
    tx.push(tx::update(
        &store.tables.services,
        ServiceRecord::key_of(&record.account, &record.sk),
        Some("token_hash = :hash"),
        without_link(Expr::new().set("#state = :expired").value(":expired", s("expired")))
            .value(":hash", s(record.token_hash.clone().unwrap_or_default())),
    )?);
    tx.audit(
        AuditRecord::new(ctx, actor, &record.pk, &format!("{}.link_expired", record.sk))
            .change(record.view(), json!({ "state": "expired" })),
    )?;
    Ok(tx.try_commit().await?.is_ok())
}
