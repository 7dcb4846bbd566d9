//! Login (R-LOGIN-1..3): account + password → a token. A wrong account, a wrong password, a
//! revoked or expired account all get the same answer after the same work (R-LOGIN-2); each
//! attempt first takes a place in the account's failure window (R-LOGIN-3).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::account::{Holder, Realm, account_key};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::password;
use crate::time;

/// The body of `POST /api/session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub realm: Realm,
    pub account: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("realm", &self.realm).field("account", &self.account).finish_non_exhaustive()
    }
}

pub async fn login(app: &App, ctx: &Ctx, login: Login) -> Result<Value, ApiError> {
    let Login { realm, account, password } = login;
    if !realm.is_valid_id(&account) {
        // No such account can exist: spend the same time and answer the same.
        verify_off_thread(password, None).await;
        return Err(ApiError::InvalidCredentials);
    }
    let attempts_key = account_key(realm, &account);
    let (reserved, holder) =
        tokio::join!(app.store.reserve_login_attempt(&attempts_key, ctx.now), app.store.holder(realm, &account));
    reserved?;
    let holder = holder?;
    let hash = holder.as_ref().map(|h| h.password_hash().to_owned());
    let verified = verify_off_thread(password, hash).await;
    let holder = match holder {
        Some(h) if verified && h.is_usable(ctx.today()) => h,
        _ => return Err(ApiError::InvalidCredentials),
    };
    app.store.clear_login_attempts(&attempts_key).await?;
    let (token, expires_at) = app.keys.issue(&app.tokens, realm, &account, ctx.now)?;
    let profile = match &holder {
        Holder::Utokyo(a) => a.profile(),
        Holder::Workshop(w) => w.profile(),
    };
    Ok(json!({ "token": token, "expires_at": time::rfc3339(expires_at), "account": profile }))
}

/// argon2id off the async workers (it takes tens of milliseconds by design).
async fn verify_off_thread(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(phc) => password::verify(&password, &phc),
        None => {
            password::verify_nothing(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}
