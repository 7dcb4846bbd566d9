//! The authorization matrix: every endpoint × every kind of caller → the expected status, in
//! one table. Bodies are chosen so that an allowed caller gets past authorization without
//! changing anything (a rule answers instead), so the cells do not depend on their order.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::Env;

const CALLERS: [&str; 11] = [
    "none",
    "student",
    "unchanged",
    "faculty",
    "proxy",
    "out_of_scope",
    "operator",
    "workshop",
    "revoked",
    "expired",
    "locked",
];

fn endpoints() -> Vec<(Method, &'static str, Option<Value>, [u16; 11])> {
    // Columns as CALLERS; `locked` is a token issued before the help desk locked the account
    // (R-SEC-4): it gets what a revoked one gets.
    vec![
        (Method::GET, "/api/me", None, [401, 200, 200, 200, 200, 200, 200, 200, 401, 401, 401]),
        (Method::GET, "/api/remote-access", None, [401, 200, 200, 200, 200, 200, 200, 403, 401, 401, 401]),
        (
            Method::PUT,
            "/api/remote-access",
            Some(json!({ "enabled": false })),
            [401, 200, 200, 200, 200, 200, 200, 403, 401, 401, 401],
        ),
        (Method::GET, "/api/cloud-mail/address", None, [401, 200, 403, 200, 200, 200, 200, 403, 401, 401, 401]),
        (
            Method::PUT,
            "/api/cloud-mail/address",
            Some(json!({ "address": "!" })),
            [401, 400, 403, 400, 400, 400, 400, 403, 401, 401, 401],
        ),
        (
            Method::PUT,
            "/api/cloud-mail/password",
            // The current password is checked first (R-SEC-1): a wrong one is the answer.
            Some(json!({ "current_password": "x", "password": "x" })),
            [401, 401, 403, 401, 401, 401, 401, 403, 401, 401, 401],
        ),
        (
            Method::POST,
            "/api/applications",
            Some(json!({ "type": "eccs_suspension", "stop_date": "2000-01-01" })),
            [401, 403, 403, 400, 400, 409, 400, 403, 401, 401, 401],
        ),
        (Method::GET, "/api/applications", None, [401, 200, 200, 200, 200, 200, 200, 403, 401, 401, 401]),
        // R-APP-SUS-3, R-CMA-3: nothing to withdraw, past authorization.
        (
            Method::DELETE,
            "/api/applications/0192c3e0-0000-7000-8000-000000000000",
            None,
            [401, 404, 404, 404, 404, 404, 404, 403, 401, 401, 401],
        ),
        (Method::DELETE, "/api/cloud-mail/address", None, [401, 404, 403, 404, 404, 404, 404, 403, 401, 401, 401]),
        (Method::GET, "/api/proxy-targets/0000000006", None, [401, 403, 403, 403, 200, 403, 403, 403, 401, 401, 401]),
        (
            Method::PUT,
            "/api/workshop/password",
            Some(json!({ "current_password": "x", "password": "x" })),
            [401, 403, 403, 403, 403, 403, 403, 401, 401, 401, 401],
        ),
        // R-CRED-1..2: a wrong current password answers past authorization, changing nothing.
        (
            Method::PUT,
            "/api/account/password",
            Some(json!({ "current_password": "x", "new_password": "x" })),
            [401, 401, 401, 401, 401, 401, 401, 403, 401, 401, 401],
        ),
        (Method::GET, "/api/account/sign-ins", None, [401, 200, 200, 200, 200, 200, 200, 403, 401, 401, 401]),
        // R-CRED-3: the state; a wrong code past authorization; the open second step.
        (Method::GET, "/api/account/totp", None, [401, 200, 200, 200, 200, 200, 200, 403, 401, 401, 401]),
        // Enrolling needs the current password (a wrong one is the answer); removing needs a factor.
        (
            Method::POST,
            "/api/account/totp",
            Some(json!({ "current_password": "x" })),
            [401, 401, 401, 401, 401, 401, 401, 403, 401, 401, 401],
        ),
        (
            Method::DELETE,
            "/api/account/totp",
            Some(json!({ "password": "x", "code": "000000" })),
            [401, 404, 404, 404, 404, 404, 404, 403, 401, 401, 401],
        ),
        (
            Method::POST,
            "/api/account/totp/confirm",
            Some(json!({ "code": "000000" })),
            [401, 400, 400, 400, 400, 400, 400, 403, 401, 401, 401],
        ),
        (
            Method::POST,
            "/api/session/second-factor",
            Some(json!({ "challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "code": "123456" })),
            [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
        ),
        (
            Method::DELETE,
            "/api/admin/accounts/0000000001/totp",
            Some(json!({})),
            [401, 403, 403, 403, 403, 403, 400, 403, 401, 401, 401],
        ),
        (Method::GET, "/api/admin/settings", None, [401, 403, 403, 403, 403, 403, 200, 403, 401, 401, 401]),
        (
            Method::PUT,
            "/api/admin/settings",
            Some(json!({ "remote_access_capacity": -1 })),
            [401, 403, 403, 403, 403, 403, 400, 403, 401, 401, 401],
        ),
        // The account lifecycle (R-LC-…): the person's pages, the open link landings, the help desk.
        (Method::GET, "/api/services/conferencing", None, [401, 200, 403, 200, 200, 200, 200, 403, 401, 401, 401]),
        (Method::GET, "/api/cloud-mail/forwarding", None, [401, 200, 403, 200, 200, 200, 200, 403, 401, 401, 401]),
        (
            Method::PUT,
            "/api/cloud-mail/forwarding",
            Some(json!({ "address": "not an address", "current_password": "x" })),
            [401, 400, 403, 400, 400, 400, 400, 403, 401, 401, 401],
        ),
        (Method::GET, "/api/identity-link", None, [401, 200, 200, 200, 200, 200, 200, 403, 401, 401, 401]),
        // The current password is checked first (R-SEC-1): a wrong one is the answer.
        (
            Method::DELETE,
            "/api/identity-link",
            Some(json!({ "current_password": "x" })),
            [401, 401, 401, 401, 401, 401, 401, 403, 401, 401, 401],
        ),
        (
            Method::POST,
            "/api/identity-link/start",
            Some(json!({ "current_password": "x" })),
            [401, 401, 401, 401, 401, 401, 401, 403, 401, 401, 401],
        ),
        // A fresh sign-in, and no provider in this service (R-CRED-4): past authorization, 503
        // identity_provider_not_configured.
        (Method::GET, "/api/identity-link/start", None, [401, 503, 503, 503, 503, 503, 503, 403, 401, 401, 401]),
        (Method::GET, "/api/identity-link/callback?state=x&code=y", None, [503; 11]),
        (Method::POST, "/api/password-reset/start", Some(json!({ "account": "0000000001" })), [503; 11]),
        (Method::GET, "/api/password-reset/callback?state=x&code=y", None, [503; 11]),
        (Method::POST, "/api/password-reset", Some(json!({ "grant": "nothing", "new_password": "x" })), [404; 11]),
        (
            Method::POST,
            "/api/services/conferencing/accept",
            Some(json!({ "token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })),
            [404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404],
        ),
        (
            Method::POST,
            "/api/cloud-mail/forwarding/confirm",
            Some(json!({ "token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })),
            [404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404],
        ),
        (
            Method::POST,
            "/api/activation",
            // Not an id: answered before the attempt is counted (R-LOGIN-3 would lock a real one).
            Some(
                json!({ "account": "not-an-id", "activation_key": "AAAA-AAAA-AAAA-AAAA", "password": "Kx7#mQ2v-Rt9" }),
            ),
            [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
        ),
        (Method::GET, "/api/admin/accounts/0000000001", None, [401, 403, 403, 403, 403, 403, 200, 403, 401, 401, 401]),
        (
            Method::GET,
            "/api/admin/accounts/0000000001/audit",
            None,
            [401, 403, 403, 403, 403, 403, 200, 403, 401, 401, 401],
        ),
        (
            Method::POST,
            "/api/admin/accounts/import",
            Some(json!({ "format": "jsonl", "data": "{", "dry_run": true })),
            [401, 403, 403, 403, 403, 403, 400, 403, 401, 401, 401],
        ),
        (
            Method::POST,
            "/api/admin/accounts/0000000001/activation-key",
            Some(json!({ "action": "extend", "days": 0 })),
            [401, 403, 403, 403, 403, 403, 400, 403, 401, 401, 401],
        ),
        (
            Method::PUT,
            "/api/admin/accounts/0000000001/renewal",
            Some(json!({ "pending": false })),
            [401, 403, 403, 403, 403, 403, 200, 403, 401, 401, 401],
        ),
        (Method::GET, "/api/admin/runs", None, [401, 403, 403, 403, 403, 403, 200, 403, 401, 401, 401]),
        (
            Method::PUT,
            "/api/admin/accounts/0000000001/lock",
            Some(json!({ "locked": true })),
            [401, 403, 403, 403, 403, 403, 400, 403, 401, 401, 401],
        ),
        (Method::GET, "/api/health", None, [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
        (Method::GET, "/.well-known/jwks.json", None, [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_for_every_kind_of_caller() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let expired = env.token("0000000001");
    env.set_clock("2026-11-22T10:31:00+09:00").await;
    // 0000000006 locked by the help desk after its token was issued.
    let locked = env.token("0000000006");
    let lock = env
        .put(
            "/api/admin/accounts/0000000006/lock",
            Some(&env.token("0000000009")),
            json!({ "locked": true, "reason": "x" }),
        )
        .await;
    assert_eq!(lock.status, StatusCode::OK, "{}", lock.text);
    let tokens: Vec<Option<String>> = CALLERS
        .iter()
        .map(|c| match *c {
            "none" => None,
            "student" => Some(env.token("0000000001")),
            "unchanged" => Some(env.token("0000000002")),
            "faculty" => Some(env.token("0000000004")),
            "proxy" => Some(env.token("0000000005")),
            "out_of_scope" => Some(env.token("0000000007")),
            "operator" => Some(env.token("0000000009")),
            "workshop" => Some(env.token("ws0001")),
            "revoked" => Some(env.token("0000000008")),
            "locked" => Some(locked.clone()),
            _ => Some(expired.clone()),
        })
        .collect();
    let mut wrong = Vec::new();
    for (method, path, body, expected) in endpoints() {
        for ((caller, token), want) in CALLERS.iter().zip(&tokens).zip(expected) {
            let r = env.call(method.clone(), path, token.as_deref(), body.clone()).await;
            if r.status != StatusCode::from_u16(want).unwrap() {
                wrong.push(format!("{method} {path} as {caller}: {} (expected {want}) {}", r.status.as_u16(), r.text));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
