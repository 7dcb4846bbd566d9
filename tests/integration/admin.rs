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

/// R-AUD-1: the audit record's "before" is the capacity the change replaced. A change that lands
/// after the operator's read (another operator's, at the same moment) makes this one a 503 to
/// retry, and nothing is recorded for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_changed_since_it_was_read_is_never_recorded_as_before() {
    use shared::usecase::remote_access::set_capacity;
    let env = Env::start().await;
    let app = env.app();
    let operator = app.store.account("0000000009").await.unwrap().unwrap();
    let ctx = shared::Ctx::for_schedule(app.clock.now(), "test", None);
    let read = app.store.remote_access_count().await.unwrap();
    assert_eq!(read.capacity, 1000);
    // Another operator's change lands between the read and this one's transaction.
    let r =
        env.put("/api/admin/settings", Some(&env.token("0000000009")), json!({ "remote_access_capacity": 500 })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let stale = set_capacity(&app.deps(), &ctx, &operator, read, 250).await;
    assert_eq!(stale.err(), Some(shared::ApiError::ServiceUnavailable { retry_after: 1 }));
    assert_eq!(app.store.remote_access_count().await.unwrap().capacity, 500);
    let audit = app.store.audit_of("settings#remote_access", 10).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    // Read again, the change goes through, with the capacity it replaced.
    let read = app.store.remote_access_count().await.unwrap();
    set_capacity(&app.deps(), &ctx, &operator, read, 250).await.unwrap();
    let audit = app.store.audit_of("settings#remote_access", 10).await.unwrap();
    let latest = audit.iter().find(|a| a.after == json!({ "remote_access_capacity": 250 })).unwrap();
    assert_eq!(latest.before, json!({ "remote_access_capacity": 500 }));
}
