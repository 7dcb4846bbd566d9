//! SPEC §3: bad input gets a clear 4xx with a code, never a 500 and never a partial write.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_get_413_and_a_body_at_the_limit_does_not() {
    let env = Env::start().await;
    let token = env.token("0000000001");
    let pad = |n: usize| {
        let head = r#"{"enabled": true, "x": ""#;
        let tail = r#""}"#;
        format!("{head}{}{tail}", "a".repeat(n - head.len() - tail.len())).into_bytes()
    };
    let over = env.raw(Method::PUT, "/api/remote-access", Some(&token), Some(pad(16 * 1024 + 1)), &[]).await;
    assert_eq!(
        (over.status, over.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{}",
        over.text
    );
    let at = env.raw(Method::PUT, "/api/remote-access", Some(&token), Some(pad(16 * 1024)), &[]).await;
    assert_eq!((at.status, at.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{}", at.text);
    let login = env.raw(Method::POST, "/api/session", None, Some(vec![b' '; 20_000]), &[]).await;
    assert_eq!(login.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_400_bad_request_with_the_reason() {
    let env = Env::start().await;
    let token = env.token("0000000001");
    let nested = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bad json", b"{\"enabled\": tru".to_vec(), "EOF"),
        ("unknown field", br#"{"enabled": true, "admin": true}"#.to_vec(), "unknown field `admin`"),
        ("wrong type", br#"{"enabled": "yes"}"#.to_vec(), "invalid type"),
        ("missing field", b"{}".to_vec(), "missing field `enabled`"),
        ("not an object", b"[true]".to_vec(), "invalid type"),
        ("empty", Vec::new(), "required"),
        ("invalid utf-8", b"{\"enabled\": \"\xff\xfe\"}".to_vec(), ""),
        ("deep nesting", nested.into_bytes(), "recursion limit"),
        ("null byte", b"{\"enabled\": true\0}".to_vec(), ""),
    ];
    for (what, body, reason) in cases {
        let r = env.raw(Method::PUT, "/api/remote-access", Some(&token), Some(body), &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
        assert_eq!(r.code(), "bad_request", "{what}");
        let got = r.json()["error"]["details"]["reason"].as_str().unwrap_or_default().to_owned();
        assert!(got.contains(reason), "{what}: reason {got:?} should mention {reason:?}");
    }
    // Nothing was changed by any of them.
    let state = env.get("/api/remote-access", Some(&token)).await.json();
    assert_eq!((state["enabled"].clone(), state["in_use"].clone()), (json!(false), json!(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_bodies_are_strict_too() {
    let env = Env::start().await;
    for body in [
        json!({ "realm": "utokyo", "account": "0000000001" }),
        json!({ "realm": "elsewhere", "account": "0000000001", "password": "x" }),
        json!({ "realm": "utokyo", "account": 1, "password": "x" }),
        json!({ "realm": "utokyo", "account": "0000000001", "password": "Demo-Student-1", "role": "operator" }),
    ] {
        let r = env.post("/api/session", None, body.clone()).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{body}: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_in_the_api_error_shape() {
    let env = Env::start().await;
    let r = env.get("/api/nothing-here", None).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let r = env.call(Method::DELETE, "/api/me", None, None).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    assert_eq!(r.headers["allow"], "GET");
    let r = env.call(Method::PATCH, "/api/remote-access", None, None).await;
    assert_eq!(r.headers["allow"], "GET, PUT");
    let r = env.get("/api/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
}
