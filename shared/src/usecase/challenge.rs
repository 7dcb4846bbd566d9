//! The login's second step (R-CRED-3): after the password, login opens a *challenge* — a random
//! token, stored only as its hash in the `login-attempts` table with a 5-minute life — and the
//! code is checked against it, in one transaction that closes the challenge and records the step
//! (or uses up the recovery code) under a condition, so a challenge, a code and a recovery code
//! each work once, even at once. Wrong codes count in the windows of R-LOGIN-3/4.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::Deps;
use super::unit::Tx;
use crate::ctx::Ctx;
use crate::domain::account::{Account, Realm, account_key};
use crate::domain::second_factor::{CHALLENGE_MINUTES, SecondFactor};
use crate::domain::{secret, time};
use crate::error::ApiError;
use crate::store::accounts;
use crate::store::audit::AuditRecord;
use crate::store::login::Windows;
use crate::store::sign_ins::{SignIn, SignInResult};
use crate::store::tx::{self, Expr};
use crate::store::{Item, get_s, n, s};

/// After the password: a challenge for the code. Returns the token (shown once) and its expiry.
pub async fn open_challenge(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &Account,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let token = secret::random_base32(32)?;
    let until = ctx.now + Duration::minutes(CHALLENGE_MINUTES);
    let item = Item::from([
        ("pk".to_owned(), s(challenge_key(&token))),
        ("account".to_owned(), s(account.id.clone())),
        // The credentials it was opened with: a password change meanwhile ends it too.
        ("cv".to_owned(), n(i64::try_from(account.credentials_version).unwrap_or(i64::MAX))),
        // Where the password was given: its place in the windows is given back there.
        ("source".to_owned(), s(ctx.source_ip.clone())),
        ("expires_at".to_owned(), s(time::stamp(until))),
        // TTL, for clean-up only: the logic reads `expires_at`.
        ("expires".to_owned(), n((until + Duration::days(1)).timestamp())),
    ]);
    deps.store.put_short_lived(item).await?;
    Ok((token, until))
}

/// The second step of login: the challenge and a code (or a recovery code). Answers the account
/// to issue the token for; every refusal is the one 401 `invalid_code`.
pub async fn answer_challenge(deps: &Deps<'_>, ctx: &Ctx, token: &str, code: &str) -> Result<Account, ApiError> {
    let store = deps.store;
    let key = challenge_key(&crate::domain::typed::identifier(token));
    let found = store.item(&store.tables.login_attempts, &key).await?;
    let live = found
        .as_ref()
        .filter(|i| get_s(i, "expires_at").and_then(time::parse_stamp).is_some_and(|until| until > ctx.now));
    let Some(id) = live.and_then(|i| get_s(i, "account")).map(str::to_owned) else {
        return Err(ApiError::InvalidSecondFactor);
    };
    let opened_cv = live.and_then(|i| i.get("cv")).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<u64>().ok());
    let opened_from = live.and_then(|i| get_s(i, "source")).map(str::to_owned);
    let account_key = account_key(Realm::Utokyo, &id);
    let windows = Windows::new(&account_key, &ctx.source_ip);
    // R-CRED-2: every attempt on the account is recorded, this step's refusals included.
    let key_of_account = account_key.as_str();
    let record = move |result| async move { store.record_sign_in(&SignIn::new(ctx, key_of_account, result)).await };
    if let Err(e) = store.reserve_attempt(&windows, ctx.now).await {
        if let ApiError::TooManyAttempts { retry_after } = &e {
            store.record_sign_in(&SignIn::locked(ctx, &account_key, *retry_after)).await?;
        }
        return Err(e);
    }
    let found = store.account(&id).await?;
    let exists = found.is_some();
    let usable = found.filter(|a| a.is_usable(ctx.today()) && Some(a.credentials_version) == opened_cv);
    let Some((account, factor)) =
        usable.and_then(|a| a.second_factor.clone().filter(SecondFactor::is_enrolled).map(|f| (a, f)))
    else {
        // Revoked, expired or locked meanwhile, its password changed or its factor removed.
        if exists {
            record(SignInResult::Refused).await?;
        }
        return Err(ApiError::InvalidSecondFactor);
    };
    let close = tx::delete(
        &store.tables.login_attempts,
        Item::from([("pk".to_owned(), s(key))]),
        "attribute_exists(pk)",
        Expr::new(),
    )?;
    let used = if let Some(step) = factor.check(&id, code, time::unix_seconds(ctx.now)) {
        tx::update(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &account.id),
            Some(&format!("#sf.secret = :secret AND #sf.last_step < :step AND {SAME_CREDENTIALS}")),
            with_cv(accounts::second_factor_expr(), &account)
                .set("#sf.last_step = :step")
                .value(":secret", s(factor.secret.clone()))
                .value(":step", n(i64::try_from(step).unwrap_or(i64::MAX))),
        )?
    } else if let Some(i) = factor.recovery_index(code) {
        let hash = factor.recovery.get(i).cloned().unwrap_or_default();
        tx::update(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &account.id),
            Some(&format!("#sf.recovery[{i}] = :hash AND {SAME_CREDENTIALS}")),
            with_cv(accounts::second_factor_expr(), &account)
                .remove(&format!("#sf.recovery[{i}]"))
                .value(":hash", s(hash)),
        )?
    } else {
        record(SignInResult::WrongCode).await?;
        return Err(ApiError::InvalidSecondFactor);
    };
    let audit = AuditRecord::new(ctx, &account_key, &account_key, "second_factor.used").change(json!({}), json!({}));
    // Refused: the challenge, the code's step or the recovery code was used meanwhile.
    let mut tx = Tx::new(deps, ctx, &account_key);
    tx.push(close);
    tx.push(used);
    tx.audit(audit)?;
    if let Err(refusal) = tx.try_commit().await? {
        // The challenge closed by another answer to it (a double click: that one is recorded), or
        // the code's step or recovery code used already: a wrong code, as far as anyone can tell.
        if !refusal.failed(0) {
            record(SignInResult::WrongCode).await?;
        }
        return Err(ApiError::InvalidSecondFactor);
    }
    let success = SignIn::new(ctx, &account_key, SignInResult::Success);
    // Two places to give back: this one's here, and the password step's where it was taken (R-LOGIN-4:
    // a code given from another address must not take a failure off that address's count).
    let release = async {
        match opened_from.as_deref() {
            Some(from) if from == ctx.source_ip => store.release_attempts(&windows, 2).await,
            Some(from) => {
                let opened = Windows::new(&account_key, from);
                tokio::try_join!(store.release_attempt(&windows), store.release_attempt(&opened)).map(|_| ())
            }
            // A challenge opened before its source was kept: the password step's place passes by itself.
            None => store.release_attempt(&windows).await,
        }
    };
    let (released, recorded) = tokio::join!(release, store.record_sign_in(&success));
    if let Err(e) = released {
        tracing::warn!(error = %e, "failure window not released; it passes by itself");
    }
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "sign-in not recorded");
    }
    Ok(account)
}

/// The account's credentials are still those the code was checked against.
const SAME_CREDENTIALS: &str = "(attribute_not_exists(credentials_version) OR credentials_version = :cv)";

fn with_cv(expr: Expr, account: &Account) -> Expr {
    expr.value(":cv", n(i64::try_from(account.credentials_version).unwrap_or(i64::MAX)))
}

fn challenge_key(token: &str) -> String {
    format!("challenge#{}", secret::key_hash(token))
}
