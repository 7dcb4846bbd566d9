//! Faults: the database goes away during requests. Every answer is then a clear 503 with
//! `retry_after` (never a 500), and after it comes back no change is half-written — each is one
//! transaction with its audit record.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use shared::store::get_bool;

use crate::harness::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_stopped_every_request_is_503_with_retry_after() {
    let mut env = Env::start_embedded().await;
    let token = env.token("0000000001");
    env.runner.engine.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for r in [
        env.put("/api/remote-access", Some(&token), json!({ "enabled": true })).await,
        env.get("/api/me", Some(&token)).await,
        env.login("utokyo", "0000000001", "Demo-Student-1").await,
        env.put("/api/cloud-mail/address", Some(&token), json!({ "address": "taro.todai" })).await,
    ] {
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            "{}",
            r.text
        );
        assert_eq!(r.headers["retry-after"], "5");
        assert_eq!(r.json()["error"]["details"]["retry_after"], 5);
    }
    // The health check does not need the database.
    assert_eq!(env.get("/api/health", None).await.status, StatusCode::OK);
    env.runner.engine.restart().await.unwrap();
    let state = env.get("/api/remote-access", Some(&token)).await;
    assert_eq!(state.json(), json!({ "enabled": false, "capacity": 1000, "in_use": 0 }), "nothing was written");
    assert!(env.app().store.audit_of("utokyo#0000000001", 10).await.unwrap().is_empty());
    let on = env.put("/api/remote-access", Some(&token), json!({ "enabled": true })).await;
    assert_eq!(on.status, StatusCode::OK, "works again once the database is back: {}", on.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stopping_in_the_middle_of_a_burst_leaves_every_invariant() {
    let mut env = Env::start_embedded().await;
    let tokens: Vec<String> = (0..120).map(|i| env.token(&format!("{:010}", 1_000_000_000 + i))).collect();
    let burst = futures::future::join_all(
        tokens.iter().map(|t| env.put("/api/remote-access", Some(t), json!({ "enabled": true }))),
    );
    let stop = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        env.runner.engine.stop();
    };
    let (responses, ()) = tokio::join!(burst, stop);
    for r in &responses {
        assert!(matches!(r.status.as_u16(), 200 | 503), "only success or 503: {}", r.text);
    }
    env.runner.engine.restart().await.unwrap();
    let flags_on = env.dump("accounts").await.iter().filter(|i| get_bool(i, "remote_access") == Some(true)).count();
    let counter = env.get("/api/admin/settings", Some(&env.token("0000000009"))).await.json()["remote_access_in_use"]
        .as_u64()
        .unwrap() as usize;
    let records = env.dump("audit").await.len();
    let acknowledged = responses.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(flags_on, counter, "the counter equals the flags");
    assert_eq!(records, flags_on, "one audit record per change, no change without one");
    assert!(acknowledged <= flags_on, "every acknowledged change is there ({acknowledged} <= {flags_on})");
    assert!(responses.iter().any(|r| r.status == StatusCode::SERVICE_UNAVAILABLE), "the stop did land mid-burst");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_engine_is_a_503_within_the_function_timeout_not_a_hang() {
    // A DynamoDB endpoint that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let config = shared::config::Config::local(
        &endpoint,
        "http://127.0.0.1:3000",
        shared::config::KeySource::Pem(crate::harness::test_key().into()),
    );
    let app = shared::App::local(config, shared::domain::time::Clock::settable()).unwrap();
    let started = std::time::Instant::now();
    let answer = app.store.account("0000000001").await;
    let took = started.elapsed();
    assert_eq!(answer.err(), Some(shared::ApiError::ServiceUnavailable { retry_after: 5 }));
    // The client's own limit (8 s for the whole call), inside the API functions' 10 s.
    assert!(took < Duration::from_secs(10), "waited {took:?}");
    held.abort();
}

/// Keys DynamoDB leaves unprocessed, asked again until they are not, are a 503 to retry, never an
/// item that is not there: a 404 for an account that exists, or a default counter in an audit
/// record's "before" (the help desk's reads are one BatchGetItem).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_left_unprocessed_are_a_503_not_a_missing_item() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = asked.clone();
    // A DynamoDB that answers every BatchGetItem with nothing read and every key unprocessed.
    let router = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let answer = json!({ "Responses": {}, "UnprocessedKeys": request["RequestItems"] });
            ([(axum::http::header::CONTENT_TYPE, "application/x-amz-json-1.0")], answer.to_string())
        }
    });
    let endpoint = format!("http://{}", eccs_local::lambda::serve(router).await.unwrap());
    let config = shared::config::Config::local(
        &endpoint,
        "http://127.0.0.1:3000",
        shared::config::KeySource::Pem(crate::harness::test_key().into()),
    );
    let app = shared::App::local(config, shared::domain::time::Clock::settable()).unwrap();
    let key = shared::store::accounts::key(shared::domain::account::Realm::Utokyo, "0000000001");
    let read = app.store.batch_get(&[(app.store.tables.accounts.as_str(), key)]).await;
    assert_eq!(read.err(), Some(shared::ApiError::ServiceUnavailable { retry_after: 1 }));
    assert_eq!(asked.load(Ordering::SeqCst), 5, "asked again four times");
}
