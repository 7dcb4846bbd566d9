//! R-RA-1..2 (and R-AUD-1 for them): on and off at once, the capacity under concurrency, twice
//! counts once.

use reqwest::StatusCode;
use serde_json::json;
use shared::store::{get_bool, get_s};

use crate::harness::Env;

async fn directory_allows(env: &Env, account: &str) -> Option<bool> {
    let items = env.dump("directory").await;
    items.iter().find(|i| get_s(i, "pk") == Some(account)).and_then(|i| get_bool(i, "remote_access_allowed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_ra_1_on_and_off_take_effect_at_once_downstream_too() {
    let env = Env::start().await;
    let t = env.token("0000000001");
    let on = env.put("/api/remote-access", Some(&t), json!({ "enabled": true })).await;
    assert_eq!((on.status, on.json()), (StatusCode::OK, json!({ "enabled": true })));
    assert_eq!(
        env.get("/api/remote-access", Some(&t)).await.json(),
        json!({ "enabled": true, "capacity": 1000, "in_use": 1 })
    );
    assert_eq!(directory_allows(&env, "0000000001").await, Some(true));
    let off = env.put("/api/remote-access", Some(&t), json!({ "enabled": false })).await;
    assert_eq!(off.json(), json!({ "enabled": false }));
    assert_eq!(
        env.get("/api/remote-access", Some(&t)).await.json(),
        json!({ "enabled": false, "capacity": 1000, "in_use": 0 })
    );
    assert_eq!(directory_allows(&env, "0000000001").await, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_ra_2_turning_on_twice_counts_once_and_off_twice_never_goes_negative() {
    let env = Env::start().await;
    let t = env.token("0000000004");
    for _ in 0..3 {
        assert_eq!(env.put("/api/remote-access", Some(&t), json!({ "enabled": true })).await.status, StatusCode::OK);
    }
    assert_eq!(env.get("/api/remote-access", Some(&t)).await.json()["in_use"], 1);
    for _ in 0..3 {
        assert_eq!(env.put("/api/remote-access", Some(&t), json!({ "enabled": false })).await.status, StatusCode::OK);
    }
    assert_eq!(env.get("/api/remote-access", Some(&t)).await.json()["in_use"], 0);
    // R-AUD-1: one record per change of state, none for the repeats.
    let audit = env.app().store.audit_of("utokyo#0000000004", 50).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["remote_access.off", "remote_access.on"]);
    assert_eq!(audit[1].actor, "utokyo#0000000004");
    assert!(!audit[1].request_id.is_empty() && audit[1].source_ip == "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_ra_2_capacity_holds_under_fifty_concurrent_turn_ons() {
    let env = Env::start().await;
    let op = env.token("0000000009");
    let set = env.put("/api/admin/settings", Some(&op), json!({ "remote_access_capacity": 10 })).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let requests = (0..50).map(|i| {
        let env = &env;
        let token = env.token(&format!("{:010}", 1_000_000_000 + i));
        async move { env.put("/api/remote-access", Some(&token), json!({ "enabled": true })).await }
    });
    let responses = futures::future::join_all(requests).await;
    let ok = responses.iter().filter(|r| r.status == StatusCode::OK).count();
    let full: Vec<_> = responses.iter().filter(|r| r.status == StatusCode::CONFLICT).collect();
    assert_eq!(ok, 10, "exactly the capacity succeeds");
    assert_eq!(full.len(), 40);
    assert!(full.iter().all(|r| r.code() == "remote_access_capacity_exceeded"));
    assert_eq!(full[0].json()["error"]["details"], json!({ "capacity": 10, "in_use": 10 }));
    let flags_on = env.dump("accounts").await.iter().filter(|i| get_bool(i, "remote_access") == Some(true)).count();
    let counter = env.get("/api/admin/settings", Some(&op)).await.json()["remote_access_in_use"].as_i64().unwrap();
    assert_eq!((flags_on, counter), (10, 10), "the counter equals the accounts whose flag is on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_ra_2_a_full_environment_refuses_with_409_and_frees_a_place_when_one_leaves() {
    let env = Env::start().await;
    let op = env.token("0000000009");
    env.put("/api/admin/settings", Some(&op), json!({ "remote_access_capacity": 1 })).await;
    let a = env.token("0000000001");
    let b = env.token("0000000004");
    assert_eq!(env.put("/api/remote-access", Some(&a), json!({ "enabled": true })).await.status, StatusCode::OK);
    let refused = env.put("/api/remote-access", Some(&b), json!({ "enabled": true })).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::CONFLICT, "remote_access_capacity_exceeded"));
    assert!(refused.text.contains("上限"), "the manual's message: {}", refused.text);
    env.put("/api/remote-access", Some(&a), json!({ "enabled": false })).await;
    assert_eq!(env.put("/api/remote-access", Some(&b), json!({ "enabled": true })).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_menu_1_remote_access_without_a_valid_right_is_403_and_writes_nothing() {
    let env = Env::start().await;
    let t = env.token("0000000003");
    let r = env.put("/api/remote-access", Some(&t), json!({ "enabled": true })).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "eccs_right_required"));
    assert!(env.app().store.audit_of("utokyo#0000000003", 10).await.unwrap().is_empty());
    assert_eq!(env.get("/api/remote-access", Some(&t)).await.json()["in_use"], 0);
    let ws = env.put("/api/remote-access", Some(&env.token("ws0001")), json!({ "enabled": true })).await;
    assert_eq!((ws.status, ws.code().as_str()), (StatusCode::FORBIDDEN, "realm_not_allowed"));
}

/// The switch reads no account first: the token's standing is a condition of its transaction. A
/// token issued before a password change (R-CRED-1) is refused with 401 and turns nothing on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_ra_1_a_token_from_before_a_password_change_switches_nothing() {
    let env = Env::start().await;
    let old = env.login("utokyo", "0000000001", "Demo-Student-1").await.json()["token"].as_str().unwrap().to_owned();
    let changed = env
        .put(
            "/api/account/password",
            Some(&old),
            json!({ "current_password": "Demo-Student-1", "new_password": "Vq7#tLm2-Xs8" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let refused = env.put("/api/remote-access", Some(&old), json!({ "enabled": true })).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized"),
        "{}",
        refused.text
    );
    // Once more from a version above 0 (the condition's other form).
    let second = env.login("utokyo", "0000000001", "Vq7#tLm2-Xs8").await.json()["token"].as_str().unwrap().to_owned();
    let again = env
        .put(
            "/api/account/password",
            Some(&second),
            json!({ "current_password": "Vq7#tLm2-Xs8", "new_password": "Rb4$wQn9-Kd3" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let refused = env.put("/api/remote-access", Some(&second), json!({ "enabled": true })).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    let fresh = env.login("utokyo", "0000000001", "Rb4$wQn9-Kd3").await.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        env.get("/api/remote-access", Some(&fresh)).await.json(),
        json!({ "enabled": false, "capacity": 1000, "in_use": 0 })
    );
    assert_ne!(directory_allows(&env, "0000000001").await, Some(true));
}
