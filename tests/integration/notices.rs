//! R-LC-5: notices 30 days before an account or a right ends — real mail through an SMTP sink —
//! none while a renewal is pending, one per account, kind and date, re-armed by a new date; and
//! the outbox's delivery state: sent, or failed with the error and retried.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::store::get_s;

use crate::harness::{Env, SmtpSink};

fn record(id: &str, kind: &str, until: &str) -> Value {
    json!({
        "id": id, "kind": kind, "name_ja": "卒業 予定", "name_en": "Graduating Soon", "department_code": "D03",
        "department_ja": "理学部", "department_en": "Faculty of Science", "valid_from": "2023-04-01", "valid_until": until,
    })
}

async fn import(env: &Env, records: &[Value]) {
    let data: String = records.iter().map(|r| format!("{r}\n")).collect();
    let r = env
        .post("/api/admin/accounts/import", Some(&env.token("0000000009")), json!({ "format": "jsonl", "data": data }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_5_a_notice_goes_out_once_30_days_before_none_while_renewing_and_again_for_a_new_date() {
    let sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2027-03-01T00:05:00+09:00").await;
    import(
        &env,
        &[
            record("2200000001", "student", "2027-03-31"),
            record("2200000002", "student", "2027-03-31"),
            record("2200000003", "student", "2027-04-30"),
        ],
    )
    .await;
    let renewing = env
        .put("/api/admin/accounts/2200000002/renewal", Some(&env.token("0000000009")), json!({ "pending": true }))
        .await;
    assert_eq!(renewing.status, StatusCode::OK);
    let run = env.run("sweep-daily", json!({})).await;
    assert_eq!((run["notices_queued"].clone(), run["messages_sent"].clone()), (json!(1), json!(1)), "{run}");
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, "2200000001@g.ecc.u-tokyo.ac.jp");
    assert!(mail[0].subject.contains("2027-03-31"), "{}", mail[0].subject);
    assert!(
        mail[0].body.contains("バックアップ") && mail[0].body.contains("back up"),
        "the backup reminder: {}",
        mail[0].body
    );
    // The next day's sweep does not send it again; 2200000003 is not yet 30 days out.
    env.set_clock("2027-03-02T00:05:00+09:00").await;
    assert_eq!(env.run("sweep-daily", json!({})).await["notices_queued"], 0);
    assert_eq!(sink.messages().len(), 1);
    // A new date re-arms it.
    import(&env, &[record("2200000001", "student", "2027-03-25")]).await;
    assert_eq!(env.run("sweep-daily", json!({})).await["notices_queued"], 1);
    let mail = sink.messages();
    assert_eq!(mail.len(), 2);
    assert!(mail.iter().any(|m| m.subject.contains("2027-03-25")));
    // Each queued notice is in the audit log with its change.
    let audit = env.app().store.audit_of("utokyo#2200000001", 10).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "notice.queued").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_5_a_right_that_ends_before_the_account_gets_its_own_notice() {
    let sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    // 0000000003 (faculty) applies: the right runs to the account's valid_until; an import then
    // extends the account, so the right ends first.
    assert_eq!(
        env.post("/api/applications", Some(&env.token("0000000003")), json!({ "type": "eccs_usage" })).await.status,
        StatusCode::CREATED
    );
    let right_until: chrono::NaiveDate =
        env.get("/api/me", Some(&env.token("0000000003"))).await.json()["right"]["valid_until"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    let later = right_until + chrono::Duration::days(365);
    import(&env, &[json!({
        "id": "0000000003", "kind": "faculty", "name_ja": "駒場 一郎", "name_en": "Ichiro Komaba", "department_code": "D01",
        "department_ja": "教養学部", "department_en": "College of Arts and Sciences", "valid_from": "2025-04-01", "valid_until": later,
    })])
    .await;
    env.set_clock(&format!("{}T00:05:00+09:00", right_until - chrono::Duration::days(30))).await;
    let run = env.run("sweep-daily", json!({})).await;
    assert!(run["notices_queued"].as_u64().unwrap() >= 1, "{run}");
    let to_faculty: Vec<_> = sink.messages().into_iter().filter(|m| m.to == "0000000003@g.ecc.u-tokyo.ac.jp").collect();
    assert_eq!(to_faculty.len(), 1, "{to_faculty:?}");
    assert!(to_faculty[0].subject.contains("ECCS usage right"), "{}", to_faculty[0].subject);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_5_a_failed_delivery_is_kept_with_its_error_and_retried() {
    let mut sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2027-03-01T00:05:00+09:00").await;
    import(&env, &[record("2200000011", "student", "2027-03-31")]).await;
    sink.stop();
    let run = env.run("sweep-daily", json!({})).await;
    assert_eq!((run["notices_queued"].clone(), run["messages_failed"].clone()), (json!(1), json!(1)), "{run}");
    let outbox = env.dump("outbox").await;
    assert_eq!(get_s(&outbox[0], "state"), Some("failed"));
    assert!(get_s(&outbox[0], "last_error").unwrap().contains("SMTP"), "{outbox:?}");
    let lookup = env.app().store.outbox_of("2200000011", 5).await.unwrap();
    assert_eq!((lookup.len(), lookup[0].attempts), (1, 1));
    sink.restart().await;
    env.set_clock("2027-03-01T01:00:00+09:00").await;
    let retry = env.run("sync-hourly", json!({})).await;
    assert_eq!(retry["messages_sent"], 1, "{retry}");
    assert_eq!(sink.messages().len(), 1);
    let sent = env.app().store.outbox_of("2200000011", 5).await.unwrap();
    assert_eq!(
        (sent[0].state, sent[0].attempts, sent[0].body.is_none()),
        (shared::store::outbox::MessageState::Sent, 2, true)
    );
}

/// A mailer whose configuration is not there yet (in AWS: its SMTP URL's secret not read).
struct NotReady;

#[async_trait::async_trait]
impl shared::usecase::Mailer for NotReady {
    async fn prepare(&self) -> Result<(), String> {
        Err("secret eccs/smtp-url: unreachable".into())
    }

    async fn send(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        Err("sent while not ready".into())
    }
}

/// A mailer that takes every message.
struct Takes;

#[async_trait::async_trait]
impl shared::usecase::Mailer for Takes {
    async fn send(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailer_that_is_not_ready_makes_no_attempt_and_the_message_stays_queued_and_due() {
    use shared::store::outbox::MessageState;
    let env = Env::with(Env::options()).await;
    env.set_clock("2027-03-01T00:05:00+09:00").await;
    import(&env, &[record("2200000011", "student", "2027-03-31")]).await;
    // No mailer: the notice is queued, and waits.
    let run = env.run("sweep-daily", json!({})).await;
    assert_eq!(run["notices_queued"], 1, "{run}");
    let app = env.app();
    let queued = app.store.outbox_of("2200000011", 5).await.unwrap();
    assert_eq!((queued.len(), queued[0].state, queued[0].attempts), (1, MessageState::Queued, 0));
    assert!(queued[0].due.is_some(), "due: {queued:?}");

    let ctx = shared::Ctx::for_schedule(app.clock.now(), "test", None);
    let sent = shared::usecase::outbox::send_one(&app.deps(), &ctx, &NotReady, &queued[0]).await.unwrap();
    assert!(!sent);
    // No attempt counted, no error recorded, due as it was: nothing of its 24 attempts is used up.
    let after = app.store.outbox_of("2200000011", 5).await.unwrap();
    assert_eq!(
        (after[0].state, after[0].attempts, &after[0].due, &after[0].last_error),
        (MessageState::Queued, 0, &queued[0].due, &None)
    );
    // Once the mailer is ready, the same message goes, its first attempt.
    assert!(shared::usecase::outbox::send_one(&app.deps(), &ctx, &Takes, &after[0]).await.unwrap());
    let sent = app.store.outbox_of("2200000011", 5).await.unwrap();
    assert_eq!((sent[0].state, sent[0].attempts, sent[0].due.is_none()), (MessageState::Sent, 1, true));
}
