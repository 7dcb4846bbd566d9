//! R-SYNC-1..4, R-SWEEP-1..2, R-RA-3, R-TGT-1: the hourly sync and the daily sweep, fired by the
//! clock or run by hand, with their costs counted from the SDK's responses.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::domain::account::{Account, Department, Kind, Name};
use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use shared::ApiError;
use shared::provision::{DirectoryTarget, Target};
use shared::store::accounts::account_item;
use shared::store::changes::Change;
use shared::store::{get_bool, get_s};

use crate::harness::Env;

fn directory_entry(items: &[shared::store::Item], account: &str) -> shared::store::Item {
    items.iter().find(|i| get_s(i, "pk") == Some(account)).cloned().unwrap_or_default()
}

fn bulk(i: u64) -> String {
    format!("{:010}", 1_000_000_000 + i)
}

/// Asks for `n` address changes of bulk accounts at the current clock, eight at a time.
async fn request_changes(env: &Env, n: u64) {
    use futures::StreamExt;
    let requests = (0..n).map(|i| {
        let token = env.token(&bulk(i));
        async move {
            let r = env.put("/api/cloud-mail/address", Some(&token), json!({ "address": format!("bulk.{i}") })).await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        }
    });
    futures::stream::iter(requests).buffer_unordered(8).collect::<Vec<()>>().await;
}

/// Waits for the in-process scheduler to have fired `function` `times` times.
async fn fired(env: &Env, function: &str, times: u64) {
    for _ in 0..100 {
        let status = env.get("/_local/schedules", None).await.json();
        let entry = status.as_array().unwrap().iter().find(|e| e["function"] == function).cloned().unwrap();
        if entry["fired"].as_u64() >= Some(times) && entry["running"] == false {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{function} did not fire {times} times");
}

async fn schedule_fired_count(env: &Env, function: &str) -> u64 {
    let status = env.get("/_local/schedules", None).await.json();
    status.as_array().unwrap().iter().find(|e| e["function"] == function).unwrap()["fired"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sync_1_an_address_change_is_applied_when_the_clock_passes_minute_0() {
    let env = Env::with(eccs_local::Options { schedules: true, ..Env::options() }).await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    let t = || env.token("0000000001");
    env.put("/api/cloud-mail/address", Some(&t()), json!({ "address": "taro.todai" })).await;
    assert_eq!(
        env.get("/api/cloud-mail/address", Some(&t())).await.json()["pending"]["effective_at"],
        "2026-11-22T11:00:00+09:00"
    );
    let before = schedule_fired_count(&env, "sync-hourly").await;
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    fired(&env, "sync-hourly", before + 1).await;
    let view = env.get("/api/cloud-mail/address", Some(&t())).await.json();
    assert_eq!(view["address"], "taro.todai@g.ecc.u-tokyo.ac.jp");
    assert_eq!(view["pending"], Value::Null);
    let directory = env.dump("directory").await;
    assert_eq!(
        get_s(&directory_entry(&directory, "0000000001"), "mail_address"),
        Some("taro.todai@g.ecc.u-tokyo.ac.jp")
    );
    let change = env.app().store.changes_of("0000000001").await.unwrap().remove(0);
    assert_eq!(
        (change.target.as_deref(), change.applied_at.is_some(), change.due.is_none()),
        (Some("directory"), true, true),
        "receipt"
    );
    // Within the same hour the clock moving on fires nothing more.
    env.set_clock("2026-11-22T11:30:00+09:00").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(schedule_fired_count(&env, "sync-hourly").await, before + 1, "fired once");
    let runs = env.app().store.runs_of("sync-hourly", 10).await.unwrap();
    assert_eq!((runs.len(), runs[0].applied), (1, 1));
}

/// Items as sorted text, so that two dumps compare equal when their contents do.
fn canonical(items: Vec<shared::store::Item>) -> Vec<String> {
    let mut rows: Vec<String> =
        items.into_iter().map(|i| serde_dynamo::from_item::<_, Value>(i).unwrap().to_string()).collect();
    rows.sort();
    rows
}

/// Adds accounts until there are `total`, in batches (the demo has 210).
async fn grow_to(env: &Env, total: u64) {
    let template: Account = Account {
        initial_password_changed: true,
        ..Account::new(
            String::new(),
            Kind::Student,
            Name { ja: "学生".into(), en: "Student".into() },
            Department { code: "D04".into(), ja: "文学部".into(), en: "Faculty of Letters".into() },
            ("2025-04-01".parse().unwrap(), "2030-03-31".parse().unwrap()),
            String::new(),
        )
    };

    let ids: Vec<String> = (0..total - 210).map(|i| format!("{:010}", 2_000_000_000 + i)).collect();
    for chunk in ids.chunks(25) {
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|id| {
                let a =
                    Account { id: id.clone(), mail_address: format!("{id}@g.ecc.u-tokyo.ac.jp"), ..template.clone() };
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(account_item(&a).unwrap())).build().unwrap())
                    .build()
            })
            .collect();
        env.app()
            .store
            .db
            .batch_write_item()
            .request_items(env.app().store.tables.accounts.clone(), requests)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sync_2_with_10000_accounts_and_100_due_the_run_reads_at_most_110_items() {
    let env = Env::start().await;
    // 10,000 on the embedded engine; 2,000 on the slower second engine (the count read is the
    // same either way: it follows the due changes, not the accounts).
    grow_to(&env, if env.runner.engine.is_embedded() { 10_000 } else { 2_000 }).await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    request_changes(&env, 100).await;
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    let run = env.run("sync-hourly", json!({})).await;
    assert_eq!(
        (run["applied"].clone(), run["failed"].clone(), run["stopped"].clone()),
        (json!(100), json!(0), json!("done"))
    );
    let read = run["items_read"].as_u64().unwrap();
    assert!((100..=110).contains(&read), "read {read} items for 100 due among 10,000 accounts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sync_3_a_second_run_for_the_same_hour_changes_nothing() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    request_changes(&env, 20).await;
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 20);
    let tables = ["accounts", "changes", "directory", "audit", "addresses", "settings"];
    let mut before = Vec::new();
    for t in tables {
        before.push(canonical(env.dump(t).await));
    }
    env.set_clock("2026-11-22T11:00:30+09:00").await;
    let again = env.run("sync-hourly", json!({})).await;
    assert_eq!((again["applied"].clone(), again["items_read"].clone()), (json!(0), json!(0)));
    for (t, b) in tables.iter().zip(before) {
        let after = canonical(env.dump(t).await);
        assert!(after == b, "{t} changed on the second run");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sync_3_a_run_stopped_by_its_budget_resumes_with_nothing_lost_or_doubled() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    request_changes(&env, 100).await;
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    let first = env.run("sync-hourly", json!({ "item_budget": 30 })).await;
    assert_eq!(
        (first["applied"].clone(), first["remaining"].clone(), first["stopped"].clone()),
        (json!(30), json!(70), json!("budget"))
    );
    let second = env.run("sync-hourly", json!({ "item_budget": 30 })).await;
    assert_eq!((second["applied"].clone(), second["remaining"].clone()), (json!(30), json!(40)));
    let last = env.run("sync-hourly", json!({})).await;
    assert_eq!(
        (last["applied"].clone(), last["remaining"].clone(), last["stopped"].clone()),
        (json!(40), json!(0), json!("done"))
    );
    let directory = env.dump("directory").await;
    for i in 0..100 {
        let entry = directory_entry(&directory, &bulk(i));
        assert_eq!(get_s(&entry, "mail_address"), Some(format!("bulk.{i}@g.ecc.u-tokyo.ac.jp").as_str()), "{i}");
        let receipts = env.app().store.audit_of(&format!("utokyo#{}", bulk(i)), 10).await.unwrap();
        assert_eq!(receipts.iter().filter(|a| a.action == "mail_address.applied").count(), 1, "{i}: applied once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sync_3_a_run_that_died_after_the_target_but_before_the_receipt_is_finished_once() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    request_changes(&env, 1).await;
    let change = env.app().store.changes_of(&bulk(0)).await.unwrap().remove(0);
    // The run "dies" here: the mail system has the change, the receipt was never written.
    env.app().target.apply(&change).await.unwrap();
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 1);
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 0);
    let audit = env.app().store.audit_of(&format!("utokyo#{}", bulk(0)), 10).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "mail_address.applied").count(), 1);
    let directory = env.dump("directory").await;
    assert_eq!(get_s(&directory_entry(&directory, &bulk(0)), "mail_address_change"), Some(change.change_id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sync_3_a_missed_hour_is_caught_up_by_the_next_run() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    env.put("/api/cloud-mail/address", Some(&env.token("0000000001")), json!({ "address": "at.eleven" })).await;
    env.set_clock("2026-11-22T11:20:00+09:00").await;
    env.put("/api/cloud-mail/address", Some(&env.token("0000000004")), json!({ "address": "at.twelve" })).await;
    env.set_clock("2026-11-22T12:00:00+09:00").await;
    let run = env.run("sync-hourly", json!({})).await;
    assert_eq!(run["applied"], 2, "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sync_4_a_refused_change_is_kept_shown_and_retried_next_hour() {
    let refusals = Arc::new(Refusals::default());
    let shared_refusals = refusals.clone();
    let env =
        Env::with_target(Box::new(move |store| Arc::new(RefusingTarget::new(store, shared_refusals.clone())))).await;
    refusals.refuse("0000000001", true);
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    let t = || env.token("0000000001");
    env.put("/api/cloud-mail/address", Some(&t()), json!({ "address": "taro.todai" })).await;
    env.put("/api/cloud-mail/address", Some(&env.token("0000000004")), json!({ "address": "jiro" })).await;
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    let run = env.run("sync-hourly", json!({})).await;
    assert_eq!((run["applied"].clone(), run["failed"].clone()), (json!(1), json!(1)), "{run}");
    assert_eq!(run["failures"][0]["account"], "0000000001");
    let runs = env.app().store.runs_of("sync-hourly", 1).await.unwrap();
    assert_eq!(runs[0].failures[0].kind, "mail_address", "operators see it in the run record");
    let view = env.get("/api/cloud-mail/address", Some(&t())).await.json();
    assert_eq!(view["address"], "0000000001@g.ecc.u-tokyo.ac.jp");
    assert_eq!(view["pending"]["state"], "retrying");
    assert_eq!(view["pending"]["attempts"], 1);
    assert_eq!(view["pending"]["effective_at"], "2026-11-22T12:00:00+09:00");
    // R-SEC-5: the person sees a reason code and a sentence, never the mail system's own text;
    // operators see the text in the run record.
    assert_eq!(view["pending"]["error"]["code"], "mail_system_refused", "{view}");
    assert!(view["pending"]["error"]["message"].as_str().unwrap().contains(" / "));
    assert!(!view.to_string().contains("locked"), "the target's text reaches the person: {view}");
    assert!(runs[0].failures[0].error.contains("locked"), "operators see the target's text");
    // Still refused at 12:00: tried again, kept again.
    env.set_clock("2026-11-22T12:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["failed"], 1);
    refusals.refuse("0000000001", false);
    env.set_clock("2026-11-22T13:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 1);
    let view = env.get("/api/cloud-mail/address", Some(&t())).await.json();
    assert_eq!(
        (view["address"].clone(), view["pending"].clone()),
        (json!("taro.todai@g.ecc.u-tokyo.ac.jp"), Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cmp_3_a_password_reaches_the_mail_system_as_a_hash_and_leaves_the_queue() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    env.put(
        "/api/cloud-mail/password",
        Some(&env.token("0000000001")),
        json!({ "current_password": "Demo-Student-1", "password": "Kx7#mQ2v-Rt9" }),
    )
    .await;
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 1);
    let directory = env.dump("directory").await;
    let crypt = get_s(&directory_entry(&directory, "0000000001"), "mail_password_crypt").unwrap().to_owned();
    assert!(sha_crypt::sha512_check("Kx7#mQ2v-Rt9", &crypt).is_ok());
    let change = env.app().store.changes_of("0000000001").await.unwrap().remove(0);
    assert_eq!(change.password_crypt, None, "removed once applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sweep_1_a_stop_date_today_keeps_the_right_today_and_ends_it_at_tomorrows_sweep() {
    let env = Env::with(eccs_local::Options { schedules: true, ..Env::options() }).await;
    env.set_clock("2026-11-22T14:00:00+09:00").await;
    let t = || env.token("0000000004");
    assert_eq!(env.put("/api/remote-access", Some(&t()), json!({ "enabled": true })).await.status, StatusCode::OK);
    let app = env
        .post("/api/applications", Some(&t()), json!({ "type": "eccs_suspension", "stop_date": "2026-11-22" }))
        .await;
    assert_eq!(app.json()["effective_on"], "2026-11-23");
    // A sweep run again today leaves it valid.
    let today = env.run("sweep-daily", json!({})).await;
    assert_eq!((today["applied"].clone(), today["items_read"].clone()), (json!(0), json!(0)));
    assert_eq!(env.get("/api/me", Some(&t())).await.json()["right"]["valid"], true);
    // Tomorrow's 00:05 sweep, fired by the clock.
    let before = schedule_fired_count(&env, "sweep-daily").await;
    env.set_clock("2026-11-23T00:05:00+09:00").await;
    fired(&env, "sweep-daily", before + 1).await;
    let t = env.token("0000000004");
    let me = env.get("/api/me", Some(&t)).await.json();
    assert_eq!((me["right"]["valid"].clone(), me["remote_access"]["enabled"].clone()), (json!(false), json!(false)));
    assert_eq!(
        env.get("/api/remote-access", Some(&t)).await.json()["in_use"],
        0,
        "R-RA-3: the count goes down with it"
    );
    let entry = directory_entry(&env.dump("directory").await, "0000000004");
    assert_eq!(
        (get_bool(&entry, "eccs_enabled"), get_bool(&entry, "remote_access_allowed")),
        (Some(false), Some(false))
    );
    let audit = env.app().store.audit_of("utokyo#0000000004", 1).await.unwrap();
    assert_eq!((audit[0].action.as_str(), audit[0].actor.as_str()), ("right.invalidated", "system:sweep-daily"));
    assert_eq!(env.get("/api/applications", Some(&t)).await.json()["items"][0]["status"], "completed");
    // Idempotent: the next sweep reads nothing.
    let again = env.run("sweep-daily", json!({})).await;
    assert_eq!((again["applied"].clone(), again["items_read"].clone()), (json!(0), json!(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sweep_1_rights_past_valid_until_and_workshop_accounts_expire() {
    let env = Env::start().await;
    let until: chrono::NaiveDate =
        env.get("/api/me", Some(&env.token("0000000001"))).await.json()["right"]["valid_until"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    env.set_clock(&format!("{until}T23:00:00+09:00")).await;
    assert_eq!(env.run("sweep-daily", json!({})).await["applied"], 1, "only ws0001 (valid a year) has expired by then");
    assert_eq!(env.login("workshop", "ws0001", "Demo-Workshop-1").await.status, StatusCode::UNAUTHORIZED);
    let day_after = until.succ_opt().unwrap();
    env.set_clock(&format!("{day_after}T00:05:00+09:00")).await;
    let run = env.run("sweep-daily", json!({})).await;
    // Every demo account with a right: 1, 2, 4, 5, 9 and the 200 bulk students.
    assert_eq!(run["applied"], 205, "{run}");
    assert_eq!(run["items_read"], 205);
    let ws = env.dump("accounts").await.into_iter().find(|i| get_s(i, "pk") == Some("workshop#ws0001")).unwrap();
    assert_eq!(get_s(&ws, "status"), Some("expired"));
}

/// The accounts a [`RefusingTarget`] refuses; shared with the test that sets them.
#[derive(Debug, Default)]
pub struct Refusals(Mutex<HashSet<String>>);

impl Refusals {
    pub fn refuse(&self, account: &str, refuse: bool) {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if refuse {
            set.insert(account.to_owned());
        } else {
            set.remove(account);
        }
    }
}

/// A test double (in the tests, not in any Lambda): a target for the tests of R-SYNC-4: the directory, except that it refuses every change of the
/// accounts in its refusal list (and never joins a transaction for them).
pub struct RefusingTarget {
    inner: DirectoryTarget,
    refused: std::sync::Arc<Refusals>,
}

impl RefusingTarget {
    pub fn new(store: &shared::store::Store, refused: std::sync::Arc<Refusals>) -> Self {
        Self { inner: DirectoryTarget::new(store), refused }
    }

    fn refuses(&self, account: &str) -> bool {
        self.refused.0.lock().unwrap_or_else(|p| p.into_inner()).contains(account)
    }
}

#[async_trait]
impl Target for RefusingTarget {
    fn name(&self) -> &str {
        "directory"
    }

    async fn apply(&self, change: &Change) -> Result<(), String> {
        if self.refuses(&change.account) {
            return Err(format!("mailbox {} is locked by the mail provider (test refusal)", change.account));
        }
        self.inner.apply(change).await
    }

    fn join(&self, changes: &[Change]) -> Option<Result<TransactWriteItem, ApiError>> {
        if changes.iter().any(|c| self.refuses(&c.account)) { None } else { self.inner.join(changes) }
    }
}
