//! R-CRED-1: the person changes their own account password — one transaction holding the new
//! hash (only while the old one is still the account's), `initial_password_changed`, a raised
//! credentials version (every token issued before stops working), the audit record and the
//! notice to the cloud-mail address; then the notice is sent at once.

use serde_json::json;

use super::accounts;
use super::audit::AuditRecord;
use super::outbox::{self, OutboxMessage};
use super::tx::{self, Expr};
use super::{b, n, s};
use crate::domain::account::{Account, Realm};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::domain::time;

/// Sets `phc` (an argon2id hash of the new password, already checked against R-PWD and the
/// current password) as the account's password.
pub async fn change_password(app: &App, ctx: &Ctx, account: &Account, phc: String) -> Result<(), ApiError> {
    let store = &app.store;
    let notice = OutboxMessage::new(
        format!("{}#password-changed#{}", account.id, uuid::Uuid::now_v7()),
        "password_changed",
        &account.id,
        &account.mail_address,
        "【ECCS】パスワードが変更されました / Your password was changed".into(),
        format!(
            "{} 様\n\nUTokyo Account のパスワードが {} に変更されました。\n\
             心当たりがない場合は、すぐにヘルプデスクに連絡してください。\n\n\
             Dear {},\n\nThe password of your UTokyo Account was changed at {}.\n\
             If this was not you, contact the help desk at once.\n",
            account.name.ja,
            time::rfc3339(ctx.now),
            account.name.en,
            time::rfc3339(ctx.now),
        ),
        ctx.now,
    );
    let items = vec![
        tx::update(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &account.id),
            Some("password_hash = :old AND #status = :active"),
            Expr::new()
                .name("#status", "status")
                .set("password_hash = :phc")
                .set("initial_password_changed = :true")
                .set("credentials_version = if_not_exists(credentials_version, :zero) + :one")
                .set("credentials_changed_at = :now")
                .value(":old", s(account.password_hash.clone()))
                .value(":active", s("active"))
                .value(":phc", s(phc))
                .value(":true", b(true))
                .value(":zero", n(0))
                .value(":one", n(1))
                .value(":now", s(time::stamp(ctx.now))),
        )?,
        notice.queue(store)?,
        AuditRecord::new(ctx, &account.key(), &account.key(), "account_password.changed")
            .change(
                json!({ "initial_password_changed": account.initial_password_changed }),
                json!({ "initial_password_changed": true, "sessions_ended": true }),
            )
            .put(store)?,
    ];
    // Refused: the password changed meanwhile (another request); the client may try again.
    tx::commit_or(store, items, ApiError::ServiceUnavailable { retry_after: 1 }).await?;
    outbox::send_now(app, ctx, &notice).await
}
