//! R-LC-6 conferencing invitations and R-LC-7 mail forwarding: real mail through an SMTP sink,
//! one-time links, expiry by the daily sweep, forwarding applied by the hourly sync.

use reqwest::StatusCode;
use serde_json::json;
use shared::store::get_s;

use crate::harness::{Env, SmtpSink};

/// The one-time link in a mail body: what follows `#/accept/` or `#/forwarding/`.
pub fn link_token(body: &str, marker: &str) -> String {
    let start = body.find(marker).unwrap() + marker.len();
    body[start..].split_whitespace().next().unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_6_an_invitation_is_mailed_resent_with_a_new_link_and_accepted() {
    let sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let t = || env.token("0000000001");
    assert_eq!(env.get("/api/services/conferencing", Some(&t())).await.json()["state"], "none");
    let applied = env.call(reqwest::Method::POST, "/api/services/conferencing", Some(&t()), None).await;
    assert_eq!(applied.status, StatusCode::CREATED, "{}", applied.text);
    assert_eq!(
        (applied.json()["state"].clone(), applied.json()["expires_at"].clone()),
        (json!("invited"), json!("2026-12-07T10:00:00+09:00"))
    );
    let first = sink.messages();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].to, "0000000001@g.ecc.u-tokyo.ac.jp", "to the cloud mail");
    let old = link_token(&first[0].body, "#/accept/");
    // Asked again: a new link; the old one stops working.
    let resent = env.call(reqwest::Method::POST, "/api/services/conferencing", Some(&t()), None).await;
    assert_eq!(resent.status, StatusCode::CREATED, "{}", resent.text);
    let mail = sink.messages();
    assert_eq!(mail.len(), 2);
    let new = mail.iter().map(|m| link_token(&m.body, "#/accept/")).find(|tok| *tok != old).unwrap();
    let stale = env.post("/api/services/conferencing/accept", None, json!({ "token": old })).await;
    assert_eq!((stale.status, stale.code().as_str()), (StatusCode::NOT_FOUND, "link_not_found_or_expired"));
    let accepted = env.post("/api/services/conferencing/accept", None, json!({ "token": new })).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert_eq!(accepted.json()["service_account"], "0000000001@g.ecc.u-tokyo.ac.jp");
    let state = env.get("/api/services/conferencing", Some(&t())).await.json();
    assert_eq!(
        (state["state"].clone(), state["service_account"].clone()),
        (json!("active"), json!("0000000001@g.ecc.u-tokyo.ac.jp"))
    );
    let again = env.call(reqwest::Method::POST, "/api/services/conferencing", Some(&t()), None).await;
    assert_eq!((again.status, again.code().as_str()), (StatusCode::CONFLICT, "service_already_active"));
    assert!(!env.dump_all().await.contains(&new), "only the link's hash is kept");
    let r = env.call(reqwest::Method::POST, "/api/services/conferencing", Some(&env.token("0000000002")), None).await;
    assert_eq!(r.code(), "initial_password_not_changed", "only a holder of a cloud-mail address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_6_a_link_opened_twice_at_once_is_used_once() {
    let sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    let operator = env.token("0000000009");
    // Several accounts, each link opened 32 times at once: the read-then-close window is small,
    // and only the transaction's condition (the link is still the one read) keeps it to one use.
    for account in ["0000000001", "0000000004", "0000000005", "1000000000"] {
        let invited =
            env.call(reqwest::Method::POST, "/api/services/conferencing", Some(&env.token(account)), None).await;
        assert_eq!(invited.status, StatusCode::CREATED, "{account}: {}", invited.text);
        let mail = sink.messages().into_iter().find(|m| m.to.starts_with(account)).expect("the invitation");
        let token = link_token(&mail.body, "#/accept/");
        let requests = (0..32).map(|_| {
            let (env, token) = (&env, token.clone());
            async move { env.post("/api/services/conferencing/accept", None, json!({ "token": token })).await }
        });
        let responses = futures::future::join_all(requests).await;
        let accepted = responses.iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(accepted, 1, "{account}: {:?}", responses.iter().map(|r| &r.text).collect::<Vec<_>>());
        assert!(
            responses.iter().filter(|r| r.status != StatusCode::OK).all(|r| r.code() == "link_not_found_or_expired")
        );
        let audit = env.get(&format!("/api/admin/accounts/{account}/audit"), Some(&operator)).await.json();
        let used = audit["items"].as_array().unwrap().iter().filter(|x| x["action"] == "service.activated").count();
        assert_eq!(used, 1, "{account}: one audit record for the one use: {audit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_6_an_unused_invitation_expires_at_the_sweep_after_15_days() {
    let sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    env.call(reqwest::Method::POST, "/api/services/conferencing", Some(&env.token("0000000004")), None).await;
    let token = link_token(&sink.messages()[0].body, "#/accept/");
    env.set_clock("2026-12-07T00:05:00+09:00").await;
    assert_eq!(env.run("sweep-daily", json!({})).await["links_expired"], 0, "valid until 10:00");
    env.set_clock("2026-12-08T00:05:00+09:00").await;
    assert_eq!(env.run("sweep-daily", json!({})).await["links_expired"], 1);
    assert_eq!(env.get("/api/services/conferencing", Some(&env.token("0000000004"))).await.json()["state"], "expired");
    let late = env.post("/api/services/conferencing/accept", None, json!({ "token": token })).await;
    assert_eq!(late.code(), "link_not_found_or_expired");
    // Applying again invites anew.
    let again =
        env.call(reqwest::Method::POST, "/api/services/conferencing", Some(&env.token("0000000004")), None).await;
    assert_eq!((again.status, again.json()["state"].clone()), (StatusCode::CREATED, json!("invited")));
}

/// The link expiry is a step of the sweep under the same driver: it honours the run's item budget
/// (a run out of budget leaves the link), and the next run takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sync_3_link_expiry_keeps_to_the_runs_budget_and_the_next_run_finishes_it() {
    let sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let invited =
        env.call(reqwest::Method::POST, "/api/services/conferencing", Some(&env.token("0000000004")), None).await;
    assert_eq!(invited.status, StatusCode::CREATED);
    env.set_clock("2026-12-08T00:05:00+09:00").await;
    let stopped = env.run("sweep-daily", json!({ "item_budget": 0 })).await;
    assert_eq!(
        (stopped["links_expired"].clone(), stopped["stopped"].clone()),
        (json!(0), json!("budget")),
        "{stopped}"
    );
    assert_eq!(env.get("/api/services/conferencing", Some(&env.token("0000000004"))).await.json()["state"], "invited");
    let next = env.run("sweep-daily", json!({})).await;
    assert_eq!((next["links_expired"].clone(), next["stopped"].clone()), (json!(1), json!("done")), "{next}");
    assert_eq!(env.get("/api/services/conferencing", Some(&env.token("0000000004"))).await.json()["state"], "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_7_forwarding_starts_only_after_the_link_is_confirmed_and_then_at_minute_0() {
    let sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    let t = || env.token("0000000001");
    let bad = env
        .put(
            "/api/cloud-mail/forwarding",
            Some(&t()),
            json!({ "address": "me@g.ecc.u-tokyo.ac.jp", "current_password": "Demo-Student-1" }),
        )
        .await;
    assert_eq!((bad.status, bad.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_address"), "no forwarding loop");
    let asked = env
        .put(
            "/api/cloud-mail/forwarding",
            Some(&t()),
            json!({ "address": "taro@example.ac.jp", "current_password": "Demo-Student-1" }),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
    let mut mail = sink.messages();
    assert_eq!(mail.len(), 2, "{mail:?}");
    // The sink does not keep the order of arrival: the confirmation first.
    mail.sort_by_key(|m| m.to != "taro@example.ac.jp");
    assert_eq!(mail[0].to, "taro@example.ac.jp", "the link goes to the forwarding address");
    // R-SEC-2: and the person's own mailbox is told, so a stolen session cannot redirect quietly.
    assert_eq!(mail[1].to, "0000000001@g.ecc.u-tokyo.ac.jp", "{mail:?}");
    assert!(
        mail[1].body.contains("taro@example.ac.jp") && !mail[1].body.contains("#/forwarding/"),
        "no link in the notice"
    );
    // Not confirmed yet: the sync applies nothing.
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 0);
    assert_eq!(env.get("/api/cloud-mail/forwarding", Some(&t())).await.json()["address"], json!(null));
    let token = link_token(&mail[0].body, "#/forwarding/");
    let confirmed = env.post("/api/cloud-mail/forwarding/confirm", None, json!({ "token": token })).await;
    assert_eq!(
        (confirmed.status, confirmed.json()["effective_at"].clone()),
        (StatusCode::OK, json!("2026-11-22T12:00:00+09:00"))
    );
    assert_eq!(
        env.get("/api/cloud-mail/forwarding", Some(&t())).await.json()["pending"]["address"],
        "taro@example.ac.jp"
    );
    let pending = env.get("/api/cloud-mail/forwarding", Some(&t())).await.json()["pending"].clone();
    assert_eq!(
        (pending["state"].clone(), pending["attempts"].clone(), pending["error"].clone()),
        (json!("pending"), json!(0), json!(null)),
        "shown like the address: {pending}"
    );
    env.set_clock("2026-11-22T12:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 1);
    assert_eq!(env.get("/api/cloud-mail/forwarding", Some(&t())).await.json()["address"], "taro@example.ac.jp");
    let directory = env.dump("directory").await;
    let entry = directory.iter().find(|i| get_s(i, "pk") == Some("0000000001")).unwrap();
    assert_eq!(get_s(entry, "mail_forwarding"), Some("taro@example.ac.jp"), "the mail system forwards");
    let reused = env.post("/api/cloud-mail/forwarding/confirm", None, json!({ "token": token })).await;
    assert_eq!(reused.code(), "link_not_found_or_expired", "one time");
    // Stopping it: at the next minute 0.
    let stop = env.call(reqwest::Method::DELETE, "/api/cloud-mail/forwarding", Some(&t()), None).await;
    assert_eq!(
        (stop.status, stop.json()["effective_at"].clone()),
        (StatusCode::ACCEPTED, json!("2026-11-22T13:00:00+09:00"))
    );
    env.set_clock("2026-11-22T13:00:00+09:00").await;
    env.run("sync-hourly", json!({})).await;
    assert_eq!(env.get("/api/cloud-mail/forwarding", Some(&t())).await.json()["address"], json!(null));
}
