//! What people hit when they use it (a typo in a new address, a suspension with the wrong date,
//! full-width input from a Japanese IME, the registrar's file with an extra column): R-CMA-3,
//! R-APP-SUS-3, SPEC §3 input normalisation, R-LC-1.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Env;
use crate::lifecycle::{import, jsonl, key_of, record};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_3_a_typo_is_fixed_before_minute_0_and_the_typo_is_free_again() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T07:10:00+09:00").await;
    let taro = env.token("0000000001");
    let typo = env.put("/api/cloud-mail/address", Some(&taro), json!({ "address": "taro.yamda160" })).await;
    assert_eq!(typo.status, StatusCode::ACCEPTED, "{}", typo.text);
    env.set_clock("2026-11-22T07:11:00+09:00").await;
    let fixed = env.put("/api/cloud-mail/address", Some(&taro), json!({ "address": "taro.yamada160" })).await;
    assert_eq!(fixed.status, StatusCode::ACCEPTED, "a typo can be fixed until minute 0: {}", fixed.text);
    let again = env.put("/api/cloud-mail/address", Some(&taro), json!({ "address": "taro.yamada160" })).await;
    assert_eq!(again.json(), fixed.json(), "a double click changes nothing");
    let view = env.get("/api/cloud-mail/address", Some(&taro)).await.json();
    assert_eq!(view["pending"]["address"], "taro.yamada160@g.ecc.u-tokyo.ac.jp");
    // The typo was never used: another account may have it.
    let other =
        env.put("/api/cloud-mail/address", Some(&env.token("0000000004")), json!({ "address": "taro.yamda160" })).await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.text);
    env.set_clock("2026-11-22T08:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 2);
    let applied = env.get("/api/cloud-mail/address", Some(&env.token("0000000001"))).await.json();
    assert_eq!(applied["address"], "taro.yamada160@g.ecc.u-tokyo.ac.jp");
    let audit = env.app().store.audit_of("utokyo#0000000001", 10).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "mail_address.replaced"), "{audit:?}");
    // Applied: now the 30 days run, and the address is used for good.
    let too_soon =
        env.put("/api/cloud-mail/address", Some(&env.token("0000000001")), json!({ "address": "taro.other" })).await;
    assert_eq!(too_soon.code(), "change_too_soon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_3_a_pending_change_can_be_withdrawn_and_its_address_is_free_again() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T07:10:00+09:00").await;
    let taro = env.token("0000000001");
    env.put("/api/cloud-mail/address", Some(&taro), json!({ "address": "taro.oops" })).await;
    let withdrawn = env.call(reqwest::Method::DELETE, "/api/cloud-mail/address", Some(&taro), None).await;
    assert_eq!(
        (withdrawn.status, withdrawn.json()),
        (StatusCode::OK, json!({ "pending": null })),
        "{}",
        withdrawn.text
    );
    assert_eq!(env.get("/api/cloud-mail/address", Some(&taro)).await.json()["pending"], json!(null));
    let nothing = env.call(reqwest::Method::DELETE, "/api/cloud-mail/address", Some(&taro), None).await;
    assert_eq!((nothing.status, nothing.code().as_str()), (StatusCode::NOT_FOUND, "nothing_pending"));
    env.set_clock("2026-11-22T08:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 0, "nothing is applied");
    let other =
        env.put("/api/cloud-mail/address", Some(&env.token("0000000004")), json!({ "address": "taro.oops" })).await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.text);
    // Withdrawn before it applied: it started no 30 days.
    let later =
        env.put("/api/cloud-mail/address", Some(&env.token("0000000001")), json!({ "address": "taro.fine" })).await;
    assert_eq!(later.status, StatusCode::ACCEPTED, "{}", later.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_3_4_a_change_withdrawn_while_the_sync_applies_it_never_reaches_the_mail_system() {
    use shared::store::changes::ChangeKind;
    use shared::usecase::provisioning::{Outcome, apply};
    let env = Env::start().await;
    env.set_clock("2026-11-22T07:10:00+09:00").await;
    let taro = env.token("0000000001");
    let asked = env.put("/api/cloud-mail/address", Some(&taro), json!({ "address": "taro.oops" })).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
    // Minute 0: the sync has read the change that is due ...
    env.set_clock("2026-11-22T08:00:00+09:00").await;
    let app = env.app();
    let read = app.store.change("0000000001", ChangeKind::MailAddress).await.unwrap().unwrap();
    // ... when the person withdraws it.
    let taro = env.token("0000000001");
    let withdrawn = env.call(reqwest::Method::DELETE, "/api/cloud-mail/address", Some(&taro), None).await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
    let ctx = shared::Ctx::for_schedule(env.now(), "sync-hourly", None);
    let outcome = apply(&app.deps(), &ctx, "schedule#sync-hourly", &read).await.unwrap();
    assert_eq!(outcome, Outcome::Superseded);
    let directory = format!("{:?}", env.dump("directory").await);
    assert!(!directory.contains("taro.oops"), "the mail system never got it: {directory}");
    // The address was never used: free for another account; taro keeps the one they had.
    let other =
        env.put("/api/cloud-mail/address", Some(&env.token("0000000004")), json!({ "address": "taro.oops" })).await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.text);
    let view = env.get("/api/cloud-mail/address", Some(&taro)).await.json();
    assert_ne!(view["address"], "taro.oops", "{view}");
    assert_eq!(view["pending"], json!(null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_app_sus_3_a_suspension_is_replaced_or_withdrawn_and_the_history_says_so() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let t = || env.token("0000000004");
    let apply = |date: &'static str| {
        let env = &env;
        async move {
            env.post(
                "/api/applications",
                Some(&env.token("0000000004")),
                json!({ "type": "eccs_suspension", "stop_date": date }),
            )
            .await
        }
    };
    let first = apply("2026-12-20").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let second = apply("2026-12-10").await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let (first_id, second_id) = (first.json()["id"].clone(), second.json()["id"].clone());
    let history = env.get("/api/applications", Some(&t())).await.json()["items"].clone();
    let status_of = |h: &serde_json::Value, id: &serde_json::Value| {
        h.as_array().unwrap().iter().find(|a| a["id"] == *id).map(|a| (a["status"].clone(), a["replaced_by"].clone()))
    };
    assert_eq!(status_of(&history, &first_id), Some((json!("replaced"), second_id.clone())));
    assert_eq!(status_of(&history, &second_id), Some((json!("scheduled"), json!(null))));
    // Withdrawn: the right stays, with no stop date.
    let path = format!("/api/applications/{}", second_id.as_str().unwrap());
    let withdrawn = env.call(reqwest::Method::DELETE, &path, Some(&t()), None).await;
    assert_eq!((withdrawn.status, withdrawn.json()["status"].clone()), (StatusCode::OK, json!("withdrawn")));
    let again = env.call(reqwest::Method::DELETE, &path, Some(&t()), None).await;
    assert_eq!((again.status, again.code().as_str()), (StatusCode::CONFLICT, "already_applied"));
    let someone_else = env.call(reqwest::Method::DELETE, &path, Some(&env.token("0000000005")), None).await;
    assert_eq!(someone_else.code(), "application_not_found");
    let unknown = env.call(reqwest::Method::DELETE, "/api/applications/nope", Some(&t()), None).await;
    assert_eq!((unknown.status, unknown.code().as_str()), (StatusCode::NOT_FOUND, "application_not_found"));
    env.set_clock("2026-12-21T00:05:00+09:00").await;
    env.run("sweep-daily", json!({})).await;
    let me = env.get("/api/me", Some(&t())).await.json();
    assert_eq!(me["menus"]["remote_access"]["available"], true, "the right is still valid: {me}");
    let history = env.get("/api/applications", Some(&t())).await.json()["items"].clone();
    assert_eq!(status_of(&history, &second_id), Some((json!("withdrawn"), json!(null))));
    assert_eq!(status_of(&history, &first_id).unwrap().0, "replaced", "never completed");
    // One that the sweep applied is done and stays done.
    let today = apply("2026-12-21").await;
    assert_eq!(today.status, StatusCode::CREATED, "{}", today.text);
    env.set_clock("2026-12-22T00:05:00+09:00").await;
    env.run("sweep-daily", json!({})).await;
    let done = env
        .call(
            reqwest::Method::DELETE,
            &format!("/api/applications/{}", today.json()["id"].as_str().unwrap()),
            Some(&env.token("0000000004")),
            None,
        )
        .await;
    assert_eq!(done.code(), "already_applied", "{}", done.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_width_ids_and_keys_from_a_japanese_ime_work() {
    let env = Env::start().await;
    env.set_clock("2026-11-01T09:00:00+09:00").await;
    let login = env.login("utokyo", "１０００００００１６", "Demo-Bulk-Pass").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(login.json()["account"]["account"], "1000000016");
    let reply =
        import(&env, "jsonl", jsonl(&[record("2100000010", "student", "2026-04-01", "2030-03-31")])).await.json();
    let key = key_of(&reply, "2100000010");
    let wide: String = key
        .chars()
        .map(|c| match c {
            '-' => '－',
            c => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
        })
        .collect();
    let activated = env
        .post(
            "/api/activation",
            None,
            json!({ "account": "２１００００００１０", "activation_key": wide, "password": "Vq7#tLm2-Xs8" }),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    let proxy = env.get("/api/proxy-targets/%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%96", Some(&env.token("0000000005"))).await;
    assert_eq!(proxy.status, StatusCode::OK, "{}", proxy.text);
    let lookup = env.get("/api/admin/accounts/%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%91", Some(&env.token("0000000009"))).await;
    assert_eq!(lookup.status, StatusCode::OK, "{}", lookup.text);
    let address = env
        .put("/api/cloud-mail/address", Some(&env.token("0000000001")), json!({ "address": "ｔａｒｏ．ｔｏｄａｉ" }))
        .await;
    assert_eq!(address.json()["pending"]["address"], "taro.todai@g.ecc.u-tokyo.ac.jp", "{}", address.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_1_a_registrars_extra_columns_are_ignored_and_listed_in_both_answers() {
    let env = Env::start().await;
    let op = env.token("0000000009");
    let csv = "id,kind,name_ja,name_en,department_code,department_ja,department_en,valid_from,valid_until,備考\n\
               2100000011,Student,新入 花子,Hanako Shinnyu,D03,理学部,Faculty of Science,2026-04-01,2030-03-31,転入\n";
    let body = |dry_run: bool| json!({ "format": "csv", "data": csv, "dry_run": dry_run });
    let dry = env.post("/api/admin/accounts/import", Some(&op), body(true)).await;
    assert_eq!((dry.status, dry.json()), (StatusCode::OK, json!({ "checked": 1, "ignored_columns": ["備考"] })));
    let done = env.post("/api/admin/accounts/import", Some(&op), body(false)).await;
    assert_eq!((done.status, done.json()["created"].clone()), (StatusCode::OK, json!(1)), "{}", done.text);
    assert_eq!(done.json()["ignored_columns"], json!(["備考"]));
    let bad = env
        .post(
            "/api/admin/accounts/import",
            Some(&op),
            json!({ "format": "csv", "data": csv.replace("2026-04-01", "2026-04-31") }),
        )
        .await;
    assert_eq!(bad.code(), "import_invalid");
    let line = &bad.json()["error"]["details"]["lines"][0];
    assert_eq!(line["line"], 2);
    assert!(line["reason"].as_str().unwrap().starts_with("valid_from: "), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_pwd_2_a_workshop_password_may_not_contain_the_workshops_name() {
    let env = Env::start().await;
    let r = env
        .put(
            "/api/workshop/password",
            Some(&env.token("ws0001")),
            json!({ "current_password": "Demo-Workshop-1", "password": "IntroToUnix1" }),
        )
        .await;
    assert_eq!(r.code(), "password_policy", "{}", r.text);
    assert!(r.json()["error"]["details"]["violations"].as_array().unwrap().contains(&json!("contains_name")));
}
