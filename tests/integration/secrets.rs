//! Secrets never reach a log, an audit record, a table or a response (R-CMP-3, SPEC §5): every
//! flow runs with all logs captured (at TRACE, the SDK's included) and every table dumped.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Env, captured_logs, test_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_token_or_key_in_logs_tables_or_responses() {
    captured_logs();
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    let mut responses = String::new();
    let mut tokens = Vec::new();
    let passwords = ["Demo-Student-1", "Demo-Workshop-1", "Vq7#tLm2-Xs8", "Hy3%wKp9-Zd4", "Wrong-Guess-77"];
    for (realm, account, password) in [
        ("utokyo", "0000000001", passwords[0]),
        ("workshop", "ws0001", passwords[1]),
        ("utokyo", "0000000004", passwords[4]),
    ] {
        let r = env.login(realm, account, password).await;
        responses.push_str(&r.text);
        if let Some(t) = r.json()["token"].as_str() {
            tokens.push(t.to_owned());
        }
    }
    let (student, workshop) = (tokens[0].clone(), tokens[1].clone());
    for r in [
        env.put(
            "/api/cloud-mail/password",
            Some(&student),
            json!({ "current_password": passwords[0], "password": passwords[2] }),
        )
        .await,
        env.put(
            "/api/cloud-mail/password",
            Some(&student),
            json!({ "current_password": passwords[0], "password": "short" }),
        )
        .await,
        env.put("/api/cloud-mail/address", Some(&student), json!({ "address": "taro.todai" })).await,
        env.put("/api/remote-access", Some(&student), json!({ "enabled": true })).await,
        env.put(
            "/api/workshop/password",
            Some(&workshop),
            json!({ "current_password": passwords[1], "password": passwords[3] }),
        )
        .await,
        env.get("/api/me", Some(&student)).await,
        env.get("/api/cloud-mail/address", Some(&student)).await,
    ] {
        assert!(r.status.is_success() || r.status == StatusCode::BAD_REQUEST, "{}", r.text);
        responses.push_str(&r.text);
    }
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    responses.push_str(&env.run("sync-hourly", json!({})).await.to_string());
    let tables = env.dump_all().await;
    let logs = captured_logs();
    assert!(logs.contains("\"route\":\"PUT /api/cloud-mail/password\""), "the capture works: request lines are there");
    assert!(logs.contains("\"schedule\":\"sync-hourly\""), "and the sync's run line");
    let key_body: String = test_key().lines().filter(|l| !l.starts_with("-----")).collect();
    let key_line = &key_body[40..100];
    for (place, text) in [("logs", &logs), ("tables", &tables), ("responses", &responses)] {
        for p in passwords {
            assert!(!text.contains(p), "{p} found in {place}");
        }
        assert!(!text.contains(key_line), "private key found in {place}");
        if place != "responses" {
            for t in &tokens {
                let signature = t.rsplit('.').next().unwrap();
                assert!(!text.contains(signature), "a token found in {place}");
            }
        }
    }
    assert!(!responses.contains("$argon2id$") && !responses.contains("$6$"), "no hash in any response");
    let leaking: Vec<_> = logs
        .lines()
        .filter(|l| l.contains("$argon2id$") || l.contains("$6$"))
        .map(|l| &l[..l.len().min(400)])
        .take(3)
        .collect();
    assert!(leaking.is_empty(), "no hash in the logs: {leaking:#?}");
}
