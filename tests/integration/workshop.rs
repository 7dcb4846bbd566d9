//! R-WS-1 and R-ACC-2: a workshop account changes its own password, at once, and nothing else.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_ws_1_a_workshop_password_change_takes_effect_at_once() {
    let env = Env::start().await;
    let t = env.login("workshop", "ws0001", "Demo-Workshop-1").await.json()["token"].as_str().unwrap().to_owned();
    let r = env
        .put(
            "/api/workshop/password",
            Some(&t),
            json!({ "current_password": "Demo-Workshop-1", "password": "Lq8#vN3z-Wp5" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(env.login("workshop", "ws0001", "Demo-Workshop-1").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(env.login("workshop", "ws0001", "Lq8#vN3z-Wp5").await.status, StatusCode::OK);
    let audit = env.app().store.audit_of("workshop#ws0001", 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "workshop_password.changed");
    assert!(!format!("{audit:?}").contains("Lq8#vN3z-Wp5") && !format!("{audit:?}").contains("argon2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_ws_1_the_policy_applies_and_only_workshop_tokens_may_use_it() {
    let env = Env::start().await;
    let t = env.token("ws0001");
    let weak = env
        .put(
            "/api/workshop/password",
            Some(&t),
            json!({ "current_password": "Demo-Workshop-1", "password": "ws0001abc" }),
        )
        .await;
    assert_eq!((weak.status, weak.code().as_str()), (StatusCode::BAD_REQUEST, "password_policy"));
    let v = weak.json()["error"]["details"]["violations"].clone();
    assert!(v.as_array().unwrap().contains(&json!("contains_account_id")), "{v}");
    assert!(v.as_array().unwrap().contains(&json!("missing_uppercase")), "{v}");
    let utokyo = env
        .put(
            "/api/workshop/password",
            Some(&env.token("0000000001")),
            json!({ "current_password": "Demo-Workshop-1", "password": "Lq8#vN3z-Wp5" }),
        )
        .await;
    assert_eq!((utokyo.status, utokyo.code().as_str()), (StatusCode::FORBIDDEN, "realm_not_allowed"));
    let none = env
        .put(
            "/api/workshop/password",
            None,
            json!({ "current_password": "Demo-Workshop-1", "password": "Lq8#vN3z-Wp5" }),
        )
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_acc_2_workshop_tokens_reach_nothing_else() {
    let env = Env::start().await;
    let t = env.token("ws0001");
    for path in ["/api/remote-access", "/api/cloud-mail/address", "/api/applications", "/api/proxy-targets/0000000006"]
    {
        let r = env.get(path, Some(&t)).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "realm_not_allowed"), "{path}");
    }
    // The help desk's routes give their one refusal (SPEC's API table): not an operator.
    for path in ["/api/admin/settings", "/api/admin/accounts/0000000001", "/api/admin/runs"] {
        let r = env.get(path, Some(&t)).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "operator_required"), "{path}");
    }
}
