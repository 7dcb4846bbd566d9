//! Operators set the remote-access capacity (R-RA-2); the change is audited (R-AUD-1).

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_see_and_set_the_capacity_with_an_audit_record() {
    let env = Env::start().await;
    let op = env.token("0000000009");
    assert_eq!(
        env.get("/api/admin/settings", Some(&op)).await.json(),
        json!({ "remote_access_capacity": 1000, "remote_access_in_use": 0 })
    );
    let r = env.put("/api/admin/settings", Some(&op), json!({ "remote_access_capacity": 250 })).await;
    assert_eq!((r.status, r.json()["remote_access_capacity"].clone()), (StatusCode::OK, json!(250)));
    assert_eq!(env.get("/api/remote-access", Some(&env.token("0000000001"))).await.json()["capacity"], 250);
    let audit = env.app().store.audit_of("settings#remote_access", 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].actor.as_str(), audit[0].action.as_str()), ("utokyo#0000000009", "settings.capacity_set"));
    assert_eq!(
        (audit[0].before.clone(), audit[0].after.clone()),
        (json!({ "remote_access_capacity": 1000 }), json!({ "remote_access_capacity": 250 }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_operators_get_403_and_bad_values_400() {
    let env = Env::start().await;
    for account in ["0000000001", "0000000005"] {
        let r = env.put("/api/admin/settings", Some(&env.token(account)), json!({ "remote_access_capacity": 1 })).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "operator_required"));
    }
    let op = env.token("0000000009");
    for bad in [
        json!({ "remote_access_capacity": -1 }),
        json!({ "remote_access_capacity": "10" }),
        json!({ "remote_access_capacity": 1.5 }),
        json!({ "capacity": 10 }),
    ] {
        let r = env.put("/api/admin/settings", Some(&op), bad.clone()).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{bad}");
    }
    assert_eq!(env.get("/api/admin/settings", Some(&op)).await.json()["remote_access_capacity"], 1000);
}
