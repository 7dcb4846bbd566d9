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

use crate::ctx::Ctx;
use crate::domain::account::{Account, IdentityLink, Realm};
use crate::domain::notices::SecurityNotice;
use crate::domain::secret;
use crate::domain::time;
use crate::error::ApiError;
use crate::store::accounts;
use crate::store::audit::AuditRecord;
use crate::store::identity::{GRANT_MINUTES, grant_key, link_key, live, short_lived, subject_digest};
use crate::store::outbox::OutboxMessage;
use crate::store::tx::{self, Expr};
use crate::store::{Item, b, get_s, n, s, to_av};
use crate::usecase::Deps;
use crate::usecase::outbox::{self, security_notice};
use crate::usecase::unit::Tx;

/// Links the provider's account to `account` (replacing an earlier link of its own): refused
/// with 400 when that provider account is linked to another account. The account must still be
/// as it was read — the same link, and the credentials version the flow started with (`cv`): a
/// password change or reset meanwhile ends the flow. Audited, and the person is told at their
/// cloud-mail address.
pub async fn link(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &Account,
    cv: u64,
    issuer: &str,
    subject: &str,
) -> Result<IdentityLink, ApiError> {
    let store = deps.store;
    let link = IdentityLink { issuer: issuer.to_owned(), subject: subject.to_owned(), linked_at: ctx.now };
    let mut unique = link_key(issuer, subject);
    unique.insert("account".into(), s(account.id.clone()));
    unique.insert("linked_at".into(), s(time::stamp(ctx.now)));
    let notice = security_notice(ctx, account, SecurityNotice::IdentityLinked);
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::put(
        &store.tables.accounts,
        unique,
        Some("attribute_not_exists(pk) OR account = :me"),
        Expr::new().value(":me", s(account.id.clone())),
    )?);
    tx.push(tx::update(
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
    )?);
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "identity.linked")
            .change(
                json!({ "identity": account.identity.as_ref().map(|l| json!({ "issuer": l.issuer, "subject_digest": subject_digest(&l.issuer, &l.subject) })) }),
                json!({ "identity": { "issuer": issuer, "subject_digest": subject_digest(issuer, subject) }, "linked_at": time::rfc3339(ctx.now) }),
            ))?;
    tx.push(notice.queue(store)?);
    if let Some(old) =
        account.identity.as_ref().filter(|old| (&old.issuer, &old.subject) != (&link.issuer, &link.subject))
    {
        tx.push(release_link(store, account, old)?);
    }
    match tx.try_commit().await? {
        Ok(()) => {}
        Err(r) if r.failed(0) => return Err(ApiError::IdentityAlreadyLinked),
        // Locked or no longer active meanwhile: its token no longer works either.
        Err(_) => return Err(ApiError::Unauthorized),
    }
    told(deps, ctx, &notice).await;
    Ok(link)
}

/// Removes the link (the person's own choice). Audited and told.
pub async fn unlink(deps: &Deps<'_>, ctx: &Ctx, account: &Account) -> Result<(), ApiError> {
    let Some(old) = &account.identity else { return Err(ApiError::NotFound) };
    let store = deps.store;
    let notice = security_notice(ctx, account, SecurityNotice::IdentityUnlinked);
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::update(
        &store.tables.accounts,
        accounts::key(Realm::Utokyo, &account.id),
        Some("#identity.#subject = :sub"),
        Expr::new()
            .name("#identity", "identity")
            .name("#subject", "subject")
            .remove("#identity")
            .value(":sub", s(old.subject.clone())),
    )?);
    tx.push(release_link(store, account, old)?);
    tx.audit(
        AuditRecord::new(ctx, &account.key(), &account.key(), "identity.unlinked")
            .change(json!({ "identity": old.issuer }), json!({ "identity": null })),
    )?;
    tx.push(notice.queue(store)?);
    tx.commit_or(ApiError::NotFound).await?;
    told(deps, ctx, &notice).await;
    Ok(())
}

/// The reset's callback, after the ID token was verified: a grant when `account_id` names a
/// usable account linked to exactly this provider account; otherwise the one answer
/// `reset_not_possible`, whatever the reason.
pub async fn open_grant(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let account = deps.store.account(account_id).await?.filter(|a| {
        a.is_usable(ctx.today()) && a.identity.as_ref().is_some_and(|l| l.issuer == issuer && l.subject == subject)
    });
    let Some(account) = account else { return Err(ApiError::ResetNotPossible) };
    let grant = secret::random_base32(32)?;
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
    deps.store.put_short_lived(item).await?;
    Ok((grant, until))
}

/// The new password with a grant (R-PWD with the account's own data), and the second factor
/// removed if asked: one transaction that uses the grant up, sets the password, ends every
/// session (the credentials version), writes the audit record and queues the notice.
pub async fn reset_with_grant(
    deps: &Deps<'_>,
    ctx: &Ctx,
    grant: &str,
    new_password: String,
    remove_second_factor: bool,
) -> Result<bool, ApiError> {
    let store = deps.store;
    let key = grant_key(&crate::domain::typed::identifier(grant));
    let found = store.item(&store.tables.login_attempts, &key).await?.filter(|i| live(i, ctx.now));
    let Some(found) = found else { return Err(ApiError::ResetNotPossible) };
    let (id, subject) = (get_s(&found, "account").unwrap_or_default(), get_s(&found, "subject").unwrap_or_default());
    let cv = crate::store::get_n(&found, "cv");
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
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::delete(
        &store.tables.login_attempts,
        Item::from([("pk".to_owned(), s(key))]),
        "attribute_exists(pk)",
        Expr::new(),
    )?);
    tx.push(tx::update(
        &store.tables.accounts,
        accounts::key(Realm::Utokyo, &account.id),
        Some(
            "#identity.#subject = :sub AND #status = :active AND attribute_not_exists(#lock) \
             AND (attribute_not_exists(credentials_version) OR credentials_version = :cv)",
        ),
        expr,
    )?);
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "password.reset_by_identity").change(
        json!({ "second_factor": account.second_factor.is_some() }),
        json!({ "sessions_ended": true, "second_factor": account.second_factor.is_some() && !remove_factor }),
    ))?;
    tx.push(notice.queue(store)?);
    // Refused: the grant was used meanwhile, or the account changed (locked, reset, unlinked).
    tx.commit_or(ApiError::ResetNotPossible).await?;
    told(deps, ctx, &notice).await;
    Ok(remove_factor)
}

/// Sends a notice queued with a committed change: a failure here must not turn the done change
/// into an error (the outbox keeps the message and the next schedule run retries it).
async fn told(deps: &Deps<'_>, ctx: &Ctx, notice: &OutboxMessage) {
    if let Err(e) = outbox::send_now(deps, ctx, notice).await {
        tracing::warn!(outbox_message = %notice.pk, error = %e, "notice not sent now; the outbox retries it");
    }
}

/// Deletes the uniqueness item of `old`, the link `account` had — only while it names this
/// account (or is already gone).
fn release_link(
    store: &crate::store::Store,
    account: &Account,
    old: &IdentityLink,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, ApiError> {
    tx::delete(
        &store.tables.accounts,
        link_key(&old.issuer, &old.subject),
        "attribute_not_exists(pk) OR account = :me",
        Expr::new().value(":me", s(account.id.clone())),
    )
}
