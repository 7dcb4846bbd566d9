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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::AuditRecord;
use super::changes::{self, Change};
use super::outbox::OutboxMessage;
use super::tx::{self, Expr, TxError};
use super::{Item, Store, from_item, s, sdk_error, to_item};
use crate::domain::account::{Account, Realm, account_key};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::domain::enrolment;
use crate::domain::time::{self, stamp_serde};

pub const CONFERENCING: &str = "conferencing";
pub const FORWARDING: &str = "forwarding";
/// R-LC-6: an invitation is valid 15 days.
pub const INVITATION_DAYS: i64 = 15;
/// R-LC-7: a forwarding confirmation link is valid 7 days.
pub const CONFIRMATION_DAYS: i64 = 7;
pub const LINK_Q: &str = "open";
pub const LINK_INDEX: &str = "link-expiry";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// A link was mailed and not used yet.
    Invited,
    Active,
    Expired,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// The account key.
    pub pk: String,
    /// The service: `conferencing` or `forwarding`.
    pub sk: String,
    pub account: String,
    pub state: ServiceState,
    /// Forwarding: the address to forward to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<String>,
    #[serde(with = "stamp_serde")]
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub expires: Option<DateTime<Utc>>,
    /// Conferencing: the account the service knows the person by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub activated_at: Option<DateTime<Utc>>,
    /// Index partition, present while a link is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_q: Option<String>,
}

impl std::fmt::Debug for ServiceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRecord")
            .field("pk", &self.pk)
            .field("sk", &self.sk)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ServiceRecord {
    /// The key of `account`'s record of `service` (to read it with the caller, in one call).
    pub fn key_of(account: &str, service: &str) -> Item {
        Item::from([("pk".to_owned(), s(account_key(Realm::Utokyo, account))), ("sk".to_owned(), s(service))])
    }

    /// The record from an item read by key, if there was one.
    pub fn from_read(item: Option<Item>) -> Result<Option<Self>, ApiError> {
        item.map(from_item).transpose()
    }

    /// What the person sees: never the token or its hash.
    pub fn view(&self) -> Value {
        json!({
            "state": self.state,
            "address": self.address,
            "requested_at": time::rfc3339(self.requested_at),
            "expires_at": self.expires.map(time::rfc3339),
            "service_account": self.service_account,
            "activated_at": self.activated_at.map(time::rfc3339),
        })
    }
}

impl Store {
    pub async fn service(&self, account: &str, service: &str) -> Result<Option<ServiceRecord>, ApiError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.tables.services)
            .set_key(Some(ServiceRecord::key_of(account, service)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_item).transpose()
    }
}

/// A record with a fresh one-time link, and the link.
fn with_link(account: &str, service: &str, days: i64, now: DateTime<Utc>) -> Result<(ServiceRecord, String), ApiError> {
    let token = enrolment::new_link_token(account)?;
    let record = ServiceRecord {
        pk: account_key(Realm::Utokyo, account),
        sk: service.to_owned(),
        account: account.to_owned(),
        state: ServiceState::Invited,
        address: None,
        token_hash: Some(enrolment::key_hash(&token)),
        requested_at: now,
        expires: Some(now + Duration::days(days)),
        service_account: None,
        activated_at: None,
        link_q: Some(LINK_Q.into()),
    };
    Ok((record, token))
}

/// The body of the `POST …/accept` and `POST …/confirm` requests a landing page sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    pub token: String,
}

/// What a link mail says: until when the link works, and the portal page that opens it.
fn link_in_mail(app: &App, record: &ServiceRecord, page: &str, token: &str) -> (String, String) {
    let until = record.expires.map(time::rfc3339).unwrap_or_default();
    (until, format!("{}/#/{page}/{token}", app.portal_url.trim_end_matches('/')))
}

/// One mail per link: two links asked for in the same second still get two mails.
fn message_id(record: &ServiceRecord, kind: &str) -> String {
    let hash = record.token_hash.as_deref().unwrap_or_default();
    format!("{}#{kind}#{}", record.account, &hash[..hash.len().min(16)])
}

/// Commits the record, its mail and its audit record; then sends the mail at once.
async fn commit_with_mail(
    app: &App,
    ctx: &Ctx,
    record: &ServiceRecord,
    message: OutboxMessage,
    audit: AuditRecord,
) -> Result<(), ApiError> {
    let store = &app.store;
    let items = vec![
        tx::put(&store.tables.services, to_item(record)?, None, Expr::new())?,
        message.queue(store)?,
        audit.put(store)?,
    ];
    tx::commit_or(store, items, ApiError::ServiceUnavailable { retry_after: 1 }).await?;
    super::outbox::send_now(app, ctx, &message).await
}

/// R-LC-6: invites (or invites again) the caller to the conferencing service.
pub async fn invite(app: &App, ctx: &Ctx, account: &Account) -> Result<ServiceRecord, ApiError> {
    account.check_cloud_mail()?;
    let existing = app.store.service(&account.id, CONFERENCING).await?;
    if existing.as_ref().is_some_and(|r| r.state == ServiceState::Active) {
        return Err(ApiError::ServiceAlreadyActive);
    }
    let (record, token) = with_link(&account.id, CONFERENCING, INVITATION_DAYS, ctx.now)?;
    let (until, link) = link_in_mail(app, &record, "accept", &token);
    let message = OutboxMessage::new(
        message_id(&record, "invitation"),
        "invitation",
        &account.id,
        &account.mail_address,
        "【ECCS】Web会議サービスへの招待 / Your invitation to the conferencing service".into(),
        format!(
            "{} 様\n\nWeb会議サービスのアカウントを有効にするには、{until} までに次のリンクを開いてください。\n{link}\n\
             期限を過ぎた場合は、ポータルからもう一度申請してください（以前のリンクは使えなくなります）。\n\n\
             Dear {},\n\nTo activate your conferencing account, open this link before {until}:\n{link}\n\
             If it expires, apply again in the portal (the earlier link stops working).\n",
            account.name.ja, account.name.en
        ),
        ctx.now,
    );
    let audit = AuditRecord::new(ctx, &account.key(), &account.key(), "service.invited").change(
        existing.as_ref().map(ServiceRecord::view).unwrap_or(Value::Null),
        json!({ "service": CONFERENCING, "state": "invited", "expires_at": until }),
    );
    commit_with_mail(app, ctx, &record, message, audit).await?;
    Ok(record)
}

/// The open link a token opens, or the one answer for any other token.
async fn open_link(app: &App, ctx: &Ctx, token: &str, service: &str) -> Result<ServiceRecord, ApiError> {
    let account = enrolment::link_token_account(token).ok_or(ApiError::LinkNotFoundOrExpired)?;
    match app.store.service(account, service).await? {
        Some(r)
            if r.state == ServiceState::Invited
                && r.expires.is_some_and(|e| e > ctx.now)
                && r.token_hash.as_deref().is_some_and(|h| enrolment::key_matches(token, h)) =>
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
    app: &App,
    ctx: &Ctx,
    record: &ServiceRecord,
    set: Expr,
    action: &str,
    after: Value,
    mut extra: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
) -> Result<(), ApiError> {
    let store = &app.store;
    let expr = without_link(set).value(":hash", s(record.token_hash.clone().unwrap_or_default()));
    let mut items = vec![
        tx::update(
            &store.tables.services,
            ServiceRecord::key_of(&record.account, &record.sk),
            Some("token_hash = :hash"),
            expr,
        )?,
        // R-SEC-3, R-SEC-4: only while the account is active, within its dates and not locked.
        super::accounts::usable_check(store, &record.account, ctx.today(), record.requested_at)?,
    ];
    items.append(&mut extra);
    items.push(AuditRecord::new(ctx, &record.pk, &record.pk, action).change(record.view(), after).put(store)?);
    tx::commit_or(store, items, ApiError::LinkNotFoundOrExpired).await
}

/// R-LC-6: accepting the invitation records the service account.
pub async fn accept(app: &App, ctx: &Ctx, token: &str) -> Result<String, ApiError> {
    let record = open_link(app, ctx, token, CONFERENCING).await?;
    let service_account = crate::domain::mail_address::initial_address(&record.account, &app.mail_domain);
    let set = Expr::new()
        .set("#state = :active")
        .set("service_account = :sa")
        .set("activated_at = :now")
        .value(":active", s("active"))
        .value(":sa", s(service_account.clone()))
        .value(":now", s(time::stamp(ctx.now)));
    let after = json!({ "service": CONFERENCING, "state": "active", "service_account": service_account });
    close_link(app, ctx, &record, set, "service.activated", after, vec![]).await?;
    Ok(service_account)
}

/// R-SEC-2: confirmation mails one account may have sent in a day (JST).
pub const FORWARDING_MAILS_PER_DAY: i64 = 5;

/// R-LC-7: asks to forward cloud mail to `address` (already checked by
/// [`crate::domain::mail_address::forwarding_address`]); the link goes to that address, and a notice of the
/// request to the account's own cloud mail, so that a stolen session cannot quietly redirect it
/// (R-SEC-2). At most [`FORWARDING_MAILS_PER_DAY`] requests a day: the count is a conditional
/// update in the same transaction, kept in the `login-attempts` table (the service's rate
/// windows, with a TTL).
pub async fn request_forwarding(
    app: &App,
    ctx: &Ctx,
    account: &Account,
    address: &str,
) -> Result<ServiceRecord, ApiError> {
    account.check_cloud_mail()?;
    let (mut record, token) = with_link(&account.id, FORWARDING, CONFIRMATION_DAYS, ctx.now)?;
    record.address = Some(address.to_owned());
    let (until, link) = link_in_mail(app, &record, "forwarding", &token);
    let confirmation = OutboxMessage::new(
        message_id(&record, "forwarding"),
        "forwarding_confirmation",
        &account.id,
        address,
        "【ECCS】メール転送の確認 / Confirm mail forwarding".into(),
        format!(
            "ECCS クラウドメール {} からこのアドレスへの転送が申請されました。転送を始めるには {until} までに次のリンクを開いてください。\n{link}\n\
             心当たりがない場合は、このメールを破棄してください。\n\n\
             Someone asked to forward the ECCS cloud mail {} to this address. To start forwarding, open this link before {until}:\n{link}\n\
             If this was not you, ignore this mail.\n",
            account.mail_address, account.mail_address
        ),
        ctx.now,
    );
    let notice = OutboxMessage::new(
        message_id(&record, "forwarding-notice"),
        "forwarding_requested",
        &account.id,
        &account.mail_address,
        "【ECCS】メール転送が申請されました / Mail forwarding was requested".into(),
        format!(
            "{} 様\n\nあなたのクラウドメールを {address} へ転送する申請がありました。転送は、そのアドレスに届いたリンクが {until} までに開かれると、次の毎時0分から始まります。\n\
             心当たりがない場合は、すぐにパスワードを変更し、ヘルプデスクに連絡してください。\n\n\
             Dear {},\n\nSomeone asked to forward your cloud mail to {address}. Forwarding starts at the next full hour once the link sent to that address is opened (before {until}).\n\
             If this was not you, change your password at once and contact the help desk.\n",
            account.name.ja, account.name.en
        ),
        ctx.now,
    );
    let audit = AuditRecord::new(ctx, &account.key(), &account.key(), "mail_forwarding.requested")
        .change(json!({ "forwarding": account.mail_forwarding }), json!({ "requested": address, "expires_at": until }));
    let store = &app.store;
    let today = ctx.today();
    let items = vec![
        tx::update(
            &store.tables.login_attempts,
            Item::from([("pk".to_owned(), s(format!("forwarding#{}#{today}", account.key())))]),
            Some("attribute_not_exists(pk) OR sent < :max"),
            Expr::new()
                .set("sent = if_not_exists(sent, :zero) + :one")
                .set("expires = :expires")
                .value(":zero", super::n(0))
                .value(":one", super::n(1))
                .value(":max", super::n(FORWARDING_MAILS_PER_DAY))
                .value(":expires", super::n((time::start_of_day(today) + Duration::days(2)).timestamp())),
        )?,
        tx::put(&store.tables.services, to_item(&record)?, None, Expr::new())?,
        confirmation.queue(store)?,
        notice.queue(store)?,
        audit.put(store)?,
    ];
    match tx::commit(store, items).await {
        Ok(()) => {}
        Err(TxError::Refused(r)) if r.failed(0) => {
            let tomorrow = time::start_of_day(today + Duration::days(1));
            return Err(ApiError::TooManyRequests {
                retry_after: (tomorrow - ctx.now).num_seconds().max(1).unsigned_abs(),
            });
        }
        Err(TxError::Refused(_)) => return Err(ApiError::ServiceUnavailable { retry_after: 1 }),
        Err(TxError::Failed(e)) => return Err(e),
    }
    super::outbox::send_now(app, ctx, &confirmation).await?;
    super::outbox::send_now(app, ctx, &notice).await?;
    Ok(record)
}

/// R-LC-7: the link was opened at the address: forwarding is applied at the next minute 0.
pub async fn confirm_forwarding(app: &App, ctx: &Ctx, token: &str) -> Result<(String, DateTime<Utc>), ApiError> {
    let record = open_link(app, ctx, token, FORWARDING).await?;
    let address = record.address.clone().unwrap_or_default();
    let change = Change::mail_forwarding(&record.account, &address, ctx.now);
    let effective_at = change.effective_at;
    let mut extra = Vec::new();
    changes::stage(app, ctx.now, vec![change], &mut extra)?;
    let set = Expr::new()
        .set("#state = :active")
        .set("activated_at = :now")
        .value(":active", s("active"))
        .value(":now", s(time::stamp(ctx.now)));
    let after = json!({ "forwarding": address, "effective_at": time::rfc3339(effective_at) });
    close_link(app, ctx, &record, set, "mail_forwarding.confirmed", after, extra).await?;
    Ok((address, effective_at))
}

/// R-LC-7: stops forwarding at the next minute 0.
pub async fn stop_forwarding(app: &App, ctx: &Ctx, account: &Account) -> Result<DateTime<Utc>, ApiError> {
    account.check_cloud_mail()?;
    let store = &app.store;
    let change = Change::mail_forwarding(&account.id, "", ctx.now);
    let effective_at = change.effective_at;
    let mut items = vec![tx::check(
        &store.tables.accounts,
        super::accounts::key(Realm::Utokyo, &account.id),
        "#status = :active",
        Expr::new().name("#status", "status").value(":active", s("active")),
    )?];
    changes::stage(app, ctx.now, vec![change], &mut items)?;
    items.push(tx::update(
        &store.tables.services,
        ServiceRecord::key_of(&account.id, FORWARDING),
        None,
        without_link(Expr::new().set("#state = :expired").value(":expired", s("expired")))
            .set("account = :account")
            .value(":account", s(account.id.clone()))
            .set("requested_at = :now")
            .value(":now", s(time::stamp(ctx.now))),
    )?);
    items.push(
        AuditRecord::new(ctx, &account.key(), &account.key(), "mail_forwarding.stopped")
            .change(
                json!({ "forwarding": account.mail_forwarding }),
                json!({ "forwarding": null, "effective_at": time::rfc3339(effective_at) }),
            )
            .put(store)?,
    );
    tx::commit_or(store, items, ApiError::Unauthorized).await?;
    Ok(effective_at)
}

/// R-LC-6, R-LC-7: the daily sweep expires the links not used in time; returns (expired, read).
pub async fn expire_links(app: &App, ctx: &Ctx, actor: &str) -> Result<(u64, u64), ApiError> {
    let store = &app.store;
    let out = store
        .db
        .query()
        .table_name(&store.tables.services)
        .index_name(LINK_INDEX)
        .key_condition_expression("link_q = :q AND expires <= :now")
        .expression_attribute_values(":q", s(LINK_Q))
        .expression_attribute_values(":now", s(time::stamp(ctx.now)))
        .send()
        .await
        .map_err(sdk_error)?;
    let read = u64::try_from(out.count).unwrap_or(0);
    let mut expired = 0;
    for item in out.items.unwrap_or_default() {
        let record: ServiceRecord = from_item(item)?;
        let items = vec![
            tx::update(
                &store.tables.services,
                ServiceRecord::key_of(&record.account, &record.sk),
                Some("token_hash = :hash"),
                without_link(Expr::new().set("#state = :expired").value(":expired", s("expired")))
                    .value(":hash", s(record.token_hash.clone().unwrap_or_default())),
            )?,
            AuditRecord::new(ctx, actor, &record.pk, &format!("{}.link_expired", record.sk))
                .change(record.view(), json!({ "state": "expired" }))
                .put(store)?,
        ];
        match tx::commit(store, items).await {
            Ok(()) => expired += 1,
            Err(TxError::Refused(_)) => {}
            Err(TxError::Failed(e)) => return Err(e),
        }
    }
    Ok((expired, read))
}
