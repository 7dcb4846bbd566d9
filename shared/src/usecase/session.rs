//! Login (R-LOGIN-1..4): account + password → a token. A wrong account, a wrong password, a
//! revoked, expired or locked account, one still waiting for activation: all get the same answer
//! after the same work (R-LOGIN-2, R-SEC-6); each attempt first takes a place in the failure
//! windows of the account and the source (R-LOGIN-3, R-LOGIN-4). [`reauthenticate`] is the same
//! check for a current password given with a change (R-SEC-1).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::domain::account::{Holder, Realm, account_key};
use crate::domain::password;
use crate::domain::time;
use crate::error::ApiError;
use crate::store::login::Windows;
use crate::store::sign_ins::{SignIn, SignInResult};
use crate::usecase::Deps;

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

pub async fn login(deps: &Deps<'_>, ctx: &Ctx, login: Login) -> Result<Value, ApiError> {
    let Login { realm, account, password } = login;
    let account = crate::domain::typed::identifier(&account);
    if !realm.is_valid_id(&account) {
        // No such account can exist: spend the same time and answer the same.
        verify_off_thread(password, None).await;
        return Err(ApiError::InvalidCredentials);
    }
    let key = account_key(realm, &account);
    let windows = Windows::new(&key, &ctx.source_ip);
    let (reserved, holder) =
        tokio::join!(deps.store.reserve_attempt(&windows, ctx.now), deps.store.holder(realm, &account));
    let holder = holder?;
    // R-CRED-2: every attempt on an existing account is recorded; none for one that is not.
    let record = |result| SignIn::new(ctx, &key, result);
    if let Err(e) = reserved {
        if let ApiError::TooManyAttempts { retry_after } = &e {
            // One record per refused source and window: a flood of refused attempts cannot
            // push the real ones out of the last 20. An unknown id writes the stand-in: the
            // same work (R-SEC-6).
            let written = if holder.is_some() { SignIn::locked(ctx, &key, *retry_after) } else { SignIn::nobody(ctx) };
            deps.store.record_sign_in(&written).await?;
        }
        return Err(e);
    }
    let hash = holder.as_ref().map(|h| h.password_hash().to_owned());
    // The failure is recorded while the password is checked (and replaced by the outcome if it
    // differs), so an existing account takes no longer to refuse than an unknown one (R-SEC-6).
    let failure = record(SignInResult::WrongPassword);
    // For an id with no account the same write goes to one fixed item that names nobody: the
    // same work, nothing recorded about anyone.
    let written = if holder.is_some() { failure.clone() } else { SignIn::nobody(ctx) };
    let (verified, recorded) = tokio::join!(verify_off_thread(password, hash), deps.store.record_sign_in(&written));
    recorded?;
    let holder = match holder {
        Some(h) if verified && h.is_usable(ctx.today()) => h,
        Some(_) if verified => {
            deps.store.record_sign_in(&SignIn { result: SignInResult::Refused, ..failure }).await?;
            return Err(ApiError::InvalidCredentials);
        }
        _ => return Err(ApiError::InvalidCredentials),
    };
    // R-CRED-3: with a second factor the password only opens a challenge for the code; the
    // sign-in is recorded when the code is given.
    if let Holder::Utokyo(a) = &holder
        && a.second_factor.as_ref().is_some_and(crate::domain::second_factor::SecondFactor::is_enrolled)
    {
        // The attempt keeps its place in the windows until the code is right: a known password
        // must not reset the count of wrong codes (R-LOGIN-3).
        let asked = SignIn { result: SignInResult::CodeRequested, ..failure };
        let ((challenge, until), ()) =
            tokio::try_join!(super::challenge::open_challenge(deps, ctx, a), deps.store.record_sign_in(&asked))?;
        return Ok(json!({ "second_factor": { "challenge": challenge, "expires_at": time::rfc3339(until) } }));
    }
    // The outcome replaces the record written meanwhile, joined with the release of the
    // windows: no round trip more on the way to the token.
    let success = SignIn { result: SignInResult::Success, ..failure };
    tokio::try_join!(deps.store.release_attempt(&windows), deps.store.record_sign_in(&success))?;
    token_answer(deps, ctx, &holder)
}

/// The body of `POST /api/session/second-factor`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondStep {
    pub challenge: String,
    pub code: String,
}

impl std::fmt::Debug for SecondStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondStep").finish_non_exhaustive()
    }
}

/// R-CRED-3: the code (or a recovery code) for a login's challenge → the token.
pub async fn second_step(deps: &Deps<'_>, ctx: &Ctx, step: SecondStep) -> Result<Value, ApiError> {
    let account = super::challenge::answer_challenge(deps, ctx, &step.challenge, &step.code).await?;
    token_answer(deps, ctx, &Holder::Utokyo(Box::new(account)))
}

fn token_answer(deps: &Deps<'_>, ctx: &Ctx, holder: &Holder) -> Result<Value, ApiError> {
    let (token, expires_at) =
        deps.keys.issue(deps.tokens, holder.realm(), holder.id(), holder.credentials_version(), ctx.now)?;
    let profile = match holder {
        Holder::Utokyo(a) => a.profile(),
        Holder::Workshop(w) => w.profile(),
    };
    Ok(json!({ "token": token, "expires_at": time::rfc3339(expires_at), "account": profile }))
}

/// R-SEC-1: the current password given with a change of a credential or of where mail goes,
/// checked like a login: it takes a place in the same windows, and a wrong one is a failure there.
/// `account` is the item key (`Account::key`, `WorkshopAccount::key`), `hash` its password hash.
pub async fn reauthenticate(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &str,
    hash: &str,
    current_password: String,
) -> Result<(), ApiError> {
    let windows = hold_with_password(deps, ctx, account, hash, current_password).await?;
    deps.store.release_attempt(&windows).await
}

/// [`reauthenticate`] without giving the place back: for a check that goes on after the
/// password (a second factor's code), whose caller releases the windows once all of it passed.
pub async fn hold_with_password(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &str,
    hash: &str,
    password: String,
) -> Result<Windows, ApiError> {
    let windows = Windows::new(account, &ctx.source_ip);
    deps.store.reserve_attempt(&windows, ctx.now).await?;
    if !verify_off_thread(password, Some(hash.to_owned())).await {
        return Err(ApiError::InvalidCredentials);
    }
    Ok(windows)
}

/// A new password for `account`, given with its current one (R-SEC-1), in the order that tells
/// an attacker nothing: the current password first, like a login — before it, the policy's
/// answers would test guesses of the birth date and phone (R-PWD-2) and the same-as answer
/// guesses of the password itself — then the policy with every rule it breaks (R-PWD-3), then
/// whether the new one is the current one, refused as `same` (R-CMP-2, R-CRED-1).
pub async fn check_new_password(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &crate::domain::account::Account,
    current_password: String,
    new_password: &str,
    same: &'static str,
) -> Result<(), ApiError> {
    reauthenticate(deps, ctx, &account.key(), &account.password_hash, current_password).await?;
    let (checked, candidate) = (account.clone(), new_password.to_owned());
    let violations =
        tokio::task::spawn_blocking(move || password::violations(&candidate, &password::PersonalData::of(&checked)))
            .await
            .map_err(|e| ApiError::Internal(format!("policy task: {e}")))?;
    if !violations.is_empty() {
        return Err(ApiError::PasswordPolicy { violations });
    }
    if verify_off_thread(new_password.to_owned(), Some(account.password_hash.clone())).await {
        return Err(ApiError::PasswordPolicy { violations: vec![same] });
    }
    Ok(())
}

/// A new password for `account` where no current one is asked (activation, a reset through the
/// identity link): R-PWD with the account's own data, then its argon2id hash, off the async workers.
pub async fn hash_new_password(
    account: &crate::domain::account::Account,
    new_password: String,
) -> Result<String, ApiError> {
    let person = account.clone();
    tokio::task::spawn_blocking(move || {
        match password::violations(&new_password, &password::PersonalData::of(&person)) {
            v if v.is_empty() => password::hash(&new_password).map_err(ApiError::Internal),
            violations => Err(ApiError::PasswordPolicy { violations }),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password task: {e}")))?
}

/// argon2id off the async workers (it takes tens of milliseconds by design). Without a hash (no
/// account, or one not yet activated) the same work is done against a stand-in (R-SEC-6).
async fn verify_off_thread(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || password::verify(&password, hash.as_deref().unwrap_or_default()))
        .await
        .unwrap_or(false)
}
