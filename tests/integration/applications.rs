//! R-APP-USE-1, R-APP-SUS-1..2, R-APP-PROXY-1..3, R-MENU-3 (and R-AUD-1 for them) over HTTP,
//! with the Clock set for the date edges.

use reqwest::StatusCode;
use serde_json::json;
use shared::store::{get_bool, get_s, s};

use crate::harness::Env;

async fn me(env: &Env, account: &str) -> serde_json::Value {
    env.get("/api/me", Some(&env.token(account))).await.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_app_use_1_a_faculty_member_without_a_right_gets_it_at_once() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let t = env.token("0000000003");
    let r = env.post("/api/applications", Some(&t), json!({ "type": "eccs_usage" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let app = r.json();
    assert_eq!(
        (app["type"].clone(), app["applicant"].clone(), app["target"].clone()),
        (json!("eccs_usage"), json!("0000000003"), json!("0000000003"))
    );
    assert_eq!((app["status"].clone(), app["effective_on"].clone()), (json!("completed"), json!("2026-11-22")));
    let profile = me(&env, "0000000003").await;
    assert_eq!(profile["right"]["valid"], true);
    assert_eq!(
        profile["right"]["valid_until"], profile["profile"]["valid_until"],
        "valid until the account's valid_until"
    );
    assert_eq!(profile["menus"]["remote_access"]["available"], true);
    let directory = env.dump("directory").await;
    let entry = directory.iter().find(|i| get_s(i, "pk") == Some("0000000003")).unwrap();
    assert_eq!(get_bool(entry, "eccs_enabled"), Some(true), "the ECCS servers see it");
    let again = env.post("/api/applications", Some(&t), json!({ "type": "eccs_usage" })).await;
    assert_eq!((again.status, again.code().as_str()), (StatusCode::CONFLICT, "eccs_right_already_valid"));
    let audit = env.app().store.audit_of("utokyo#0000000003", 10).await.unwrap();
    assert_eq!(audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), vec!["application.eccs_usage"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_menu_3_students_cannot_apply_and_proxy_needs_a_permission() {
    let env = Env::start().await;
    let student = env.post("/api/applications", Some(&env.token("0000000001")), json!({ "type": "eccs_usage" })).await;
    assert_eq!((student.status, student.code().as_str()), (StatusCode::FORBIDDEN, "not_faculty_or_staff"));
    let faculty = env.token("0000000004");
    let lookup = env.get("/api/proxy-targets/0000000006", Some(&faculty)).await;
    assert_eq!((lookup.status, lookup.code().as_str()), (StatusCode::FORBIDDEN, "proxy_permission_required"));
    let apply =
        env.post("/api/applications", Some(&faculty), json!({ "type": "eccs_proxy", "target": "0000000006" })).await;
    assert_eq!((apply.status, apply.code().as_str()), (StatusCode::FORBIDDEN, "proxy_permission_required"));
    assert_eq!(me(&env, "0000000006").await["right"]["valid"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_app_sus_1_2_stop_date_edges_by_the_clock() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T23:59:59+09:00").await;
    let t = env.token("0000000004");
    let valid_until = me(&env, "0000000004").await["right"]["valid_until"].as_str().unwrap().to_owned();
    let day_after: chrono::NaiveDate = valid_until.parse::<chrono::NaiveDate>().unwrap().succ_opt().unwrap();
    let apply = |stop: String| {
        let (env, t) = (&env, t.clone());
        async move { env.post("/api/applications", Some(&t), json!({ "type": "eccs_suspension", "stop_date": stop })).await }
    };
    // Yesterday: refused.
    let r = apply("2026-11-21".into()).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_stop_date"), "{}", r.text);
    assert_eq!(r.json()["error"]["details"]["earliest"], "2026-11-22");
    // After the right's valid_until: refused.
    let r = apply(day_after.to_string()).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_stop_date"));
    // Today at 23:59:59: takes effect tomorrow.
    let r = apply("2026-11-22".into()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        (r.json()["effective_on"].clone(), r.json()["status"].clone()),
        (json!("2026-11-23"), json!("scheduled"))
    );
    // Tomorrow: tomorrow.
    assert_eq!(apply("2026-11-23".into()).await.json()["effective_on"], "2026-11-23");
    // valid_until itself: that day.
    let r = apply(valid_until.clone()).await;
    assert_eq!((r.status, r.json()["effective_on"].clone()), (StatusCode::CREATED, json!(valid_until)));
    // The account shows the pending stop, and the right stays valid until then.
    let profile = me(&env, "0000000004").await;
    assert_eq!(
        (profile["right"]["valid"].clone(), profile["right"]["stop_on"].clone()),
        (json!(true), json!(valid_until))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_app_sus_2_the_stop_is_indexed_by_its_date_for_the_sweep() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T14:00:00+09:00").await;
    let r = env
        .post(
            "/api/applications",
            Some(&env.token("0000000005")),
            json!({ "type": "eccs_suspension", "stop_date": "2026-11-22" }),
        )
        .await;
    assert_eq!(r.json()["effective_on"], "2026-11-23");
    let found = env
        .app()
        .store
        .db
        .query()
        .table_name(&env.app().store.tables.accounts)
        .index_name("sweep-due")
        .key_condition_expression("sweep_q = :q AND sweep_on = :d")
        .expression_attribute_values(":q", s("due"))
        .expression_attribute_values(":d", s("2026-11-23"))
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = found.items().iter().filter_map(|i| get_s(i, "pk")).collect();
    assert_eq!(keys, vec!["utokyo#0000000005"], "found by the date index, without a scan");
    let no_right = env
        .post(
            "/api/applications",
            Some(&env.token("0000000003")),
            json!({ "type": "eccs_suspension", "stop_date": "2026-12-01" }),
        )
        .await;
    assert_eq!((no_right.status, no_right.code().as_str()), (StatusCode::CONFLICT, "eccs_right_not_valid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_app_proxy_1_3_lookup_shows_little_and_the_application_is_seen_by_both() {
    let env = Env::start().await;
    let holder = env.token("0000000005");
    let lookup = env.get("/api/proxy-targets/0000000006", Some(&holder)).await;
    assert_eq!(lookup.status, StatusCode::OK);
    let view = lookup.json();
    let mut keys: Vec<_> = view.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, vec!["account", "department", "kind", "name"]);
    assert_eq!(view["name"]["ja"], "白金 四郎");
    assert_eq!(view["department"]["code"], "D01");
    let r = env.post("/api/applications", Some(&holder), json!({ "type": "eccs_proxy", "target": "0000000006" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let app = r.json();
    assert_eq!((app["applicant"].clone(), app["target"].clone()), (json!("0000000005"), json!("0000000006")));
    assert_eq!(me(&env, "0000000006").await["right"]["valid"], true, "valid at once");
    for account in ["0000000005", "0000000006"] {
        let list = env.get("/api/applications", Some(&env.token(account))).await.json();
        assert_eq!(list["items"][0]["id"], app["id"], "{account} sees it");
    }
    let audit = env.app().store.audit_of("utokyo#0000000006", 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].actor.as_str(), audit[0].on_behalf_of.as_deref()),
        ("utokyo#0000000005", Some("utokyo#0000000006"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_app_proxy_2_missing_out_of_scope_and_ineligible_targets_are_one_identical_404() {
    let env = Env::start().await;
    let holder = env.token("0000000005");
    // Missing, malformed, out of scope (D02), already has a right, revoked.
    let targets = ["0000000077", "abc", "0000000007", "0000000001", "0000000008"];
    let mut bodies = Vec::new();
    for target in targets {
        let lookup = env.get(&format!("/api/proxy-targets/{target}"), Some(&holder)).await;
        assert_eq!(lookup.status, StatusCode::NOT_FOUND, "{target}: {}", lookup.text);
        bodies.push(lookup.text);
        let apply =
            env.post("/api/applications", Some(&holder), json!({ "type": "eccs_proxy", "target": target })).await;
        assert_eq!(apply.status, StatusCode::NOT_FOUND, "{target}: {}", apply.text);
        bodies.push(apply.text);
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "byte-identical: {bodies:#?}");
    assert!(bodies[0].contains("target_not_found_or_not_eligible"));
    assert!(env.app().store.audit_of("utokyo#0000000007", 10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_app_use_1_own_and_proxy_applications_at_once_succeed_exactly_once() {
    let env = Env::start().await;
    let own = env.token("0000000006");
    let holder = env.token("0000000005");
    let requests = (0..10).map(|i| {
        let env = &env;
        let (token, body) = if i % 2 == 0 {
            (own.clone(), json!({ "type": "eccs_usage" }))
        } else {
            (holder.clone(), json!({ "type": "eccs_proxy", "target": "0000000006" }))
        };
        async move { env.post("/api/applications", Some(&token), body).await }
    });
    let responses = futures::future::join_all(requests).await;
    let created = responses.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{:?}", responses.iter().map(|r| &r.text).collect::<Vec<_>>());
    for r in responses.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert!(
            matches!(r.code().as_str(), "eccs_right_already_valid" | "target_not_found_or_not_eligible"),
            "{}",
            r.text
        );
    }
    let audit = env.app().store.audit_of("utokyo#0000000006", 20).await.unwrap();
    assert_eq!(audit.len(), 1, "one change, one record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_app_proxy_1_a_holder_without_a_right_may_proxy_apply_for_themself() {
    let env = Env::start().await;
    env.app()
        .store
        .db
        .update_item()
        .table_name(&env.app().store.tables.accounts)
        .key("pk", s("utokyo#0000000005"))
        .update_expression("REMOVE right_until, sweep_q, sweep_on")
        .send()
        .await
        .unwrap();
    let t = env.token("0000000005");
    let r = env.post("/api/applications", Some(&t), json!({ "type": "eccs_proxy", "target": "0000000005" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(me(&env, "0000000005").await["right"]["valid"], true);
    assert_eq!(env.get("/api/applications", Some(&t)).await.json()["items"].as_array().unwrap().len(), 1, "filed once");
}
