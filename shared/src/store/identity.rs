//! R-CRED-4 in DynamoDB: the identity verification link and the self-service reset.
//!
//! - A *flow* is an authorization request waiting for its callback: the PKCE verifier, the nonce,
//!   what it is for (link or reset) and for which account, and the hash of the browser's flow
//!   cookie — in the `login-attempts` table under the hash of `state`, for 10 minutes. The
//!   callback takes it with one `DeleteItem` that returns the old item: a `state` works once,
//!   even at once.
//! - The link is `identity` on the account plus a uniqueness item `identity#<hash of iss, sub>`
//!   in the `accounts` table naming the account, put in the same transaction under the condition
//!   that it names no other account: one provider account links to one account.
//! - A *grant* is what a verified reset callback gives: a random token, stored only as its hash
//!   in `login-attempts` for 10 minutes with the `sub` and credentials version it was given for.
//!   The new password's transaction deletes it under `attribute_exists`: it works once.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::accounts;
use super::audit::AuditRecord;
use super::outbox::{self, OutboxMessage};
use super::tx::{self, Expr};
use super::{Item, Store, b, get_s, n, s, sdk_error, to_av};
use crate::domain::account::{Account, IdentityLink, Realm};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::domain::enrolment;
use crate::domain::notices::SecurityNotice;
use crate::domain::time;

/// How long a flow waits for its callback, and a grant for its new password.
pub const FLOW_MINUTES: i64 = 10;
pub const GRANT_MINUTES: i64 = 10;

/// What an authorization request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Link,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Link => "link",
            Purpose::Reset => "reset",
        }
    }
}

/// A flow as the callback gets it back.
#[derive(Debug, Clone)]
pub struct Flow {
    pub purpose: Purpose,
    pub account: String,
    pub browser_hash: String,
    pub pkce_verifier: String,
    pub nonce: String,
    /// A link's: the account's credentials version when it started.
    pub cv: Option<u64>,
}

/// SHA-256 of the exact bytes of `parts`, each length-prefixed (no two inputs share a digest:
/// an activation key's hash folds case and look-alikes; a `sub` or a `state` must not).
fn digest(parts: &[&str]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(&u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
        ctx.update(p.as_bytes());
    }
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn flow_key(state: &str) -> String {
    format!("oidc#{}", digest(&[state]))
}

fn grant_key(grant: &str) -> String {
    format!("grant#{}", digest(&[grant]))
}

/// What the audit record says of the provider account: not the `sub` itself, but enough for the
/// help desk to tell two apart.
fn subject_digest(issuer: &str, subject: &str) -> String {
    digest(&[issuer, subject]).chars().take(16).collect()
}

fn link_key(issuer: &str, subject: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("identity#{}", digest(&[issuer, subject]))))])
}

/// A short-lived item of the `login-attempts` table: `expires_at` is what the logic reads, the
/// TTL attribute `expires` only cleans up.
fn short_lived(pk: String, until: DateTime<Utc>, fields: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(pk)),
        ("expires_at".to_owned(), s(time::stamp(until))),
        ("expires".to_owned(), n((until + Duration::days(1)).timestamp())),
    ]);
    item.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
    item
}

fn live(item: &Item, now: DateTime<Utc>) -> bool {
    get_s(item, "expires_at").and_then(time::parse_stamp).is_some_and(|until| until > now)
}

impl Store {
    /// Keeps a flow until its callback (or 10 minutes).
    pub async fn save_flow(&self, state: &str, flow: &Flow, now: DateTime<Utc>) -> Result<(), ApiError> {
        let item = short_lived(
            flow_key(state),
            now + Duration::minutes(FLOW_MINUTES),
            vec![
                ("purpose", s(flow.purpose.as_str())),
                ("account", s(flow.account.clone())),
                ("browser", s(flow.browser_hash.clone())),
                ("verifier", s(flow.pkce_verifier.clone())),
                ("nonce", s(flow.nonce.clone())),
                ("cv", n(flow.cv.and_then(|v| i64::try_from(v).ok()).unwrap_or(-1))),
            ],
        );
        self.db
            .put_item()
            .table_name(&self.tables.login_attempts)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Takes the flow of `state`: at most once, and only within its 10 minutes.
    pub async fn take_flow(&self, state: &str, now: DateTime<Utc>) -> Result<Option<Flow>, ApiError> {
        let old = self
            .db
            .delete_item()
            .table_name(&self.tables.login_attempts)
            .key("pk", s(flow_key(state)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error)?
            .attributes;
        let Some(item) = old.filter(|i| live(i, now)) else { return Ok(None) };
        let field = |k: &str| get_s(&item, k).unwrap_or_default().to_owned();
        let purpose = match get_s(&item, "purpose") {
            Some("link") => Purpose::Link,
            Some("reset") => Purpose::Reset,
            _ => return Ok(None),
        };
        Ok(Some(Flow {
            purpose,
            account: field("account"),
            browser_hash: field("browser"),
            pkce_verifier: field("verifier"),
            nonce: field("nonce"),
            cv: super::get_n(&item, "cv").and_then(|v| u64::try_from(v).ok()),
        }))
    }
}

/// Links the provider's account to `account` (replacing an earlier link of its own): refused
/// with 400 when that provider account is linked to another account. The account must still be
/// as it was read — the same link, and the credentials version the flow started with (`cv`): a
/// password change or reset meanwhile ends the flow. Audited, and the person is told at their
/// cloud-mail address.
pub async fn link(
    app: &App,
    ctx: &Ctx,
    account: &Account,
    cv: u64,
    issuer: &str,
    subject: &str,
) -> Result<IdentityLink, ApiError> {
    let store = &app.store;
    let link = IdentityLink { issuer: issuer.to_owned(), subject: subject.to_owned(), linked_at: ctx.now };
    let mut unique = link_key(issuer, subject);
    unique.insert("account".into(), s(account.id.clone()));
    unique.insert("linked_at".into(), s(time::stamp(ctx.now)));
    let notice = security_notice(ctx, account, SecurityNotice::IdentityLinked);
    let mut items = vec![
        tx::put(
            &store.tables.accounts,
            unique,
            Some("attribute_not_exists(pk) OR account = :me"),
            Expr::new().value(":me", s(account.id.clone())),
        )?,
        tx::update(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &account.id),
            Some(&format!(
                "#status = :active AND attribute_not_exists(#lock) \
                 AND (attribute_not_exists(credentials_version) OR credentials_version = :cv) AND {}",
                if account.identity.is_some() {
                    "#identity.#issuer = :old_issuer AND #identity.#subject = :old_subject"
                } else {
                    "attribute_not_exists(#identity)"
                }
            )),
            {
                let expr = Expr::new()
                    .name("#status", "status")
                    .name("#lock", "lock")
                    .name("#identity", "identity")
                    .set("#identity = :link")
                    .value(":active", s("active"))
                    .value(":cv", n(i64::try_from(cv).unwrap_or(i64::MAX)))
                    .value(":link", to_av(&link)?);
                match &account.identity {
                    Some(old) => expr
                        .name("#issuer", "issuer")
                        .name("#subject", "subject")
                        .value(":old_issuer", s(old.issuer.clone()))
                        .value(":old_subject", s(old.subject.clone())),
                    None => expr,
                }
            },
        )?,
        AuditRecord::new(ctx, &account.key(), &account.key(), "identity.linked")
            .change(
                json!({ "identity": account.identity.as_ref().map(|l| json!({ "issuer": l.issuer, "subject_digest": subject_digest(&l.issuer, &l.subject) })) }),
                json!({ "identity": { "issuer": issuer, "subject_digest": subject_digest(issuer, subject) }, "linked_at": time::rfc3339(ctx.now) }),
            )
            .put(store)?,
        notice.queue(store)?,
    ];
    if let Some(old) =
        account.identity.as_ref().filter(|old| (&old.issuer, &old.subject) != (&link.issuer, &link.subject))
    {
        items.push(tx::delete(
            &store.tables.accounts,
            link_key(&old.issuer, &old.subject),
            "attribute_not_exists(pk) OR account = :me",
            Expr::new().value(":me", s(account.id.clone())),
        )?);
    }
    match tx::commit(store, items).await {
        Ok(()) => {}
        Err(tx::TxError::Refused(r)) if r.failed(0) => return Err(ApiError::IdentityAlreadyLinked),
        // Locked or no longer active meanwhile: its token no longer works either.
        Err(tx::TxError::Refused(_)) => return Err(ApiError::Unauthorized),
        Err(tx::TxError::Failed(e)) => return Err(e),
    }
    told(app, ctx, &notice).await;
    Ok(link)
}

/// Removes the link (the person's own choice). Audited and told.
pub async fn unlink(app: &App, ctx: &Ctx, account: &Account) -> Result<(), ApiError> {
    let Some(old) = &account.identity else { return Err(ApiError::NotFound) };
    let store = &app.store;
    let notice = security_notice(ctx, account, SecurityNotice::IdentityUnlinked);
    let items = vec![
        tx::update(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &account.id),
            Some("#identity.#subject = :sub"),
            Expr::new()
                .name("#identity", "identity")
                .name("#subject", "subject")
                .remove("#identity")
                .value(":sub", s(old.subject.clone())),
        )?,
        tx::delete(
            &store.tables.accounts,
            link_key(&old.issuer, &old.subject),
            "attribute_not_exists(pk) OR account = :me",
            Expr::new().value(":me", s(account.id.clone())),
        )?,
        AuditRecord::new(ctx, &account.key(), &account.key(), "identity.unlinked")
            .change(json!({ "identity": old.issuer }), json!({ "identity": null }))
            .put(store)?,
        notice.queue(store)?,
    ];
    tx::commit_or(store, items, ApiError::NotFound).await?;
    told(app, ctx, &notice).await;
    Ok(())
}

/// The reset's callback, after the ID token was verified: a grant when `account_id` names a
/// usable account linked to exactly this provider account; otherwise the one answer
/// `reset_not_possible`, whatever the reason.
pub async fn open_grant(
    app: &App,
    ctx: &Ctx,
    account_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let account = app.store.account(account_id).await?.filter(|a| {
        a.is_usable(ctx.today()) && a.identity.as_ref().is_some_and(|l| l.issuer == issuer && l.subject == subject)
    });
    let Some(account) = account else { return Err(ApiError::ResetNotPossible) };
    let grant = enrolment::random_base32(32)?;
    let until = ctx.now + Duration::minutes(GRANT_MINUTES);
    let item = short_lived(
        grant_key(&grant),
        until,
        vec![
            ("account", s(account.id.clone())),
            ("subject", s(subject)),
            ("cv", n(i64::try_from(account.credentials_version).unwrap_or(i64::MAX))),
        ],
    );
    app.store
        .db
        .put_item()
        .table_name(&app.store.tables.login_attempts)
        .set_item(Some(item))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok((grant, until))
}

/// The new password with a grant (R-PWD with the account's own data), and the second factor
/// removed if asked: one transaction that uses the grant up, sets the password, ends every
/// session (the credentials version), writes the audit record and queues the notice.
pub async fn reset_with_grant(
    app: &App,
    ctx: &Ctx,
    grant: &str,
    new_password: String,
    remove_second_factor: bool,
) -> Result<bool, ApiError> {
    let store = &app.store;
    let key = grant_key(&crate::domain::typed::identifier(grant));
    let found = store.item(&store.tables.login_attempts, &key).await?.filter(|i| live(i, ctx.now));
    let Some(found) = found else { return Err(ApiError::ResetNotPossible) };
    let (id, subject) = (get_s(&found, "account").unwrap_or_default(), get_s(&found, "subject").unwrap_or_default());
    let cv = super::get_n(&found, "cv");
    let account = store.account(id).await?.filter(|a| {
        a.is_usable(ctx.today())
            && a.identity.as_ref().is_some_and(|l| l.subject == subject)
            && i64::try_from(a.credentials_version).ok() == cv
    });
    let Some(account) = account else { return Err(ApiError::ResetNotPossible) };
    let phc = crate::usecase::session::hash_new_password(&account, new_password).await?;
    let remove_factor = remove_second_factor && account.second_factor.is_some();
    let mut expr = Expr::new()
        .name("#identity", "identity")
        .name("#subject", "subject")
        .name("#status", "status")
        .name("#lock", "lock")
        .set("password_hash = :phc")
        .set("initial_password_changed = :true")
        .set("credentials_version = if_not_exists(credentials_version, :zero) + :one")
        .set("credentials_changed_at = :now")
        .remove("activation_key_hash")
        .remove("activation_expires_at")
        .value(":sub", s(subject))
        .value(":active", s("active"))
        .value(":cv", n(cv.unwrap_or_default()))
        .value(":phc", s(phc))
        .value(":true", b(true))
        .value(":zero", n(0))
        .value(":one", n(1))
        .value(":now", s(time::stamp(ctx.now)));
    if remove_factor {
        expr = expr.name("#sf", "second_factor").remove("#sf");
    }
    let notice = security_notice(ctx, &account, SecurityNotice::PasswordReset { second_factor_removed: remove_factor });
    let items = vec![
        tx::delete(
            &store.tables.login_attempts,
            Item::from([("pk".to_owned(), s(key))]),
            "attribute_exists(pk)",
            Expr::new(),
        )?,
        tx::update(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &account.id),
            Some(
                "#identity.#subject = :sub AND #status = :active AND attribute_not_exists(#lock) \
                 AND (attribute_not_exists(credentials_version) OR credentials_version = :cv)",
            ),
            expr,
        )?,
        AuditRecord::new(ctx, &account.key(), &account.key(), "password.reset_by_identity")
            .change(
                json!({ "second_factor": account.second_factor.is_some() }),
                json!({ "sessions_ended": true, "second_factor": account.second_factor.is_some() && !remove_factor }),
            )
            .put(store)?,
        notice.queue(store)?,
    ];
    // Refused: the grant was used meanwhile, or the account changed (locked, reset, unlinked).
    tx::commit_or(store, items, ApiError::ResetNotPossible).await?;
    told(app, ctx, &notice).await;
    Ok(remove_factor)
}

/// Sends a notice queued with a committed change: a failure here must not turn the done change
/// into an error (the outbox keeps the message and the next schedule run retries it).
async fn told(app: &App, ctx: &Ctx, notice: &OutboxMessage) {
    if let Err(e) = outbox::send_now(app, ctx, notice).await {
        tracing::warn!(outbox_message = %notice.pk, error = %e, "notice not sent now; the outbox retries it");
    }
}

fn security_notice(ctx: &Ctx, account: &Account, notice: SecurityNotice) -> OutboxMessage {
    let (subject, body) = notice.message(account, &time::rfc3339(ctx.now));
    OutboxMessage::new(
        format!("{}#{}#{}", account.id, notice.kind(), uuid::Uuid::now_v7()),
        notice.kind(),
        &account.id,
        &account.mail_address,
        subject,
        body,
        ctx.now,
    )
}
