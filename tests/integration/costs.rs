//! DynamoDB calls per action, counted by the SDK interceptor: a GET is one read (plus, for a
//! list, the query it lists), a change is the caller's read and one transaction — or the transaction alone, where the
//! caller's state is one of its conditions (remote access). Counts, not
//! timings: they do not depend on the machine. The benchmark reports the same table.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use shared::store::calls::CallCounter;

use crate::harness::Env;

/// `(name, method, path, token, body, expected calls)`.
type Case<'a> = (&'a str, Method, &'a str, &'a String, Option<Value>, BTreeMap<String, u64>);

fn calls(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_action_makes_the_calls_it_must_and_no_more() {
    let counter = CallCounter::default();
    let env = Env::with(eccs_local::Options {
        interceptor: Some(aws_sdk_dynamodb::config::SharedInterceptor::new(counter.clone())),
        ..Env::options()
    })
    .await;
    let student = env.token("0000000001");
    let faculty = env.token("0000000004");
    let holder = env.token("0000000005");
    let operator = env.token("0000000009");
    let today = env.today();
    let cases: Vec<Case> = vec![
        ("me", Method::GET, "/api/me", &student, None, calls(&[("GetItem", 1)])),
        ("remote access (read)", Method::GET, "/api/remote-access", &student, None, calls(&[("BatchGetItem", 1)])),
        (
            "remote access on",
            Method::PUT,
            "/api/remote-access",
            &student,
            Some(json!({ "enabled": true })),
            // One round trip: the caller's state is a condition of the switch's transaction.
            calls(&[("TransactWriteItems", 1)]),
        ),
        (
            "cloud-mail address (read)",
            Method::GET,
            "/api/cloud-mail/address",
            &student,
            None,
            calls(&[("GetItem", 1), ("Query", 1)]),
        ),
        (
            "cloud-mail address change",
            Method::PUT,
            "/api/cloud-mail/address",
            &student,
            Some(json!({ "address": "taro.todai" })),
            // The caller, then the pending change it may replace (R-CMA-3), then one transaction.
            calls(&[("GetItem", 2), ("TransactWriteItems", 1)]),
        ),
        (
            "cloud-mail password change",
            Method::PUT,
            "/api/cloud-mail/password",
            &student,
            Some(json!({ "current_password": "Demo-Student-1", "password": "Kx7#mQ2v-Rt9" })),
            // R-SEC-1: the current password takes a place in the three windows (one transaction)
            // and gives it back (a delete and two updates, at once) before the change.
            calls(&[("GetItem", 1), ("TransactWriteItems", 2), ("DeleteItem", 1), ("UpdateItem", 2)]),
        ),
        (
            "suspension",
            Method::POST,
            "/api/applications",
            &faculty,
            Some(json!({ "type": "eccs_suspension", "stop_date": (today + chrono::Duration::days(30)).to_string() })),
            // The caller, the open suspension it replaces (R-APP-SUS-3), one transaction.
            calls(&[("GetItem", 1), ("Query", 1), ("TransactWriteItems", 1)]),
        ),
        (
            "applications (read)",
            Method::GET,
            "/api/applications",
            &faculty,
            None,
            calls(&[("GetItem", 1), ("Query", 1)]),
        ),
        ("proxy lookup", Method::GET, "/api/proxy-targets/0000000006", &holder, None, calls(&[("BatchGetItem", 1)])),
        (
            "proxy application",
            Method::POST,
            "/api/applications",
            &holder,
            Some(json!({ "type": "eccs_proxy", "target": "0000000006" })),
            calls(&[("GetItem", 2), ("TransactWriteItems", 1)]),
        ),
        ("settings (read)", Method::GET, "/api/admin/settings", &operator, None, calls(&[("BatchGetItem", 1)])),
        (
            "settings change",
            Method::PUT,
            "/api/admin/settings",
            &operator,
            Some(json!({ "remote_access_capacity": 900 })),
            // The operator and the capacity before (for the audit record) in one read.
            calls(&[("BatchGetItem", 1), ("TransactWriteItems", 1)]),
        ),
        // R-LC-6..7: the caller and their record in one read (the changes beside it).
        (
            "conferencing (read)",
            Method::GET,
            "/api/services/conferencing",
            &student,
            None,
            calls(&[("BatchGetItem", 1)]),
        ),
        (
            "forwarding (read)",
            Method::GET,
            "/api/cloud-mail/forwarding",
            &student,
            None,
            calls(&[("BatchGetItem", 1), ("Query", 1)]),
        ),
        ("identity link", Method::GET, "/api/identity-link", &student, None, calls(&[("GetItem", 1)])),
        (
            "account lookup",
            Method::GET,
            "/api/admin/accounts/0000000001",
            &operator,
            None,
            // The operator and the account in one read, then its mail and its sign-ins
            // (R-CRED-2) at once.
            calls(&[("BatchGetItem", 1), ("Query", 2)]),
        ),
        (
            "account audit",
            Method::GET,
            "/api/admin/accounts/0000000001/audit",
            &operator,
            None,
            calls(&[("BatchGetItem", 1), ("Query", 1)]),
        ),
        (
            "renewal",
            Method::PUT,
            "/api/admin/accounts/0000000003/renewal",
            &operator,
            Some(json!({ "pending": true })),
            calls(&[("BatchGetItem", 1), ("TransactWriteItems", 1)]),
        ),
    ];
    let mut wrong = Vec::new();
    for (name, method, path, token, body, expected) in cases {
        counter.take();
        let r = env.call(method, path, Some(token), body).await;
        assert!(r.status.is_success(), "{name}: {}", r.text);
        let got = counter.take();
        if got != expected {
            wrong.push(format!("{name}: {got:?}, expected {expected:?}"));
        }
    }
    counter.take();
    assert!(env.login("utokyo", "0000000001", "Demo-Student-1").await.status.is_success());
    let login = counter.take();
    // R-LOGIN-3/4: the account read beside one transaction taking a place in the three windows;
    // the attempt is recorded while the password is checked (R-CRED-2, R-SEC-6), and a success
    // gives the places back (a delete and two updates) and records its outcome, all at once.
    if login
        != calls(&[("DeleteItem", 1), ("GetItem", 1), ("PutItem", 2), ("TransactWriteItems", 1), ("UpdateItem", 2)])
    {
        wrong.push(format!("login: {login:?}"));
    }
    env.get("/api/health", None).await;
    assert!(counter.take().is_empty(), "the health check reads nothing");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
