//! R-CRED-1..2: the person changes their own password (older sessions end, a notice is mailed),
//! and sees their sign-in activity; the help desk sees it on the account page.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Env, SmtpSink};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_1_a_password_change_ends_older_sessions_and_is_told_to_the_cloud_mail() {
    let sink = SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    let login = env.login("utokyo", "0000000002", "Demo-Student-2").await;
    let t = login.json()["token"].as_str().unwrap().to_owned();
    let other_session =
        env.login("utokyo", "0000000002", "Demo-Student-2").await.json()["token"].as_str().unwrap().to_owned();
    let change = |current: &'static str, new: &'static str| {
        let (env, t) = (&env, t.clone());
        async move {
            env.put("/api/account/password", Some(&t), json!({ "current_password": current, "new_password": new }))
                .await
        }
    };
    let weak = change("Demo-Student-2", "short").await;
    assert_eq!(weak.code(), "password_policy");
    let wrong = change("Guess-0", "Vq7#tLm2-Xs8").await;
    assert_eq!((wrong.status, wrong.code().as_str()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let same = change("Demo-Student-2", "Demo-Student-2").await;
    assert!(
        same.json()["error"]["details"]["violations"].as_array().unwrap().contains(&json!("same_as_current_password")),
        "{}",
        same.text
    );
    let ok = change("Demo-Student-2", "Vq7#tLm2-Xs8").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // Every session issued before the change has ended, this one included.
    for token in [&t, &other_session] {
        assert_eq!(env.get("/api/me", Some(token)).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(env.login("utokyo", "0000000002", "Demo-Student-2").await.status, StatusCode::UNAUTHORIZED);
    let fresh = env.login("utokyo", "0000000002", "Vq7#tLm2-Xs8").await.json()["token"].as_str().unwrap().to_owned();
    // R-MENU-2: this is where the initial password is changed.
    let me = env.get("/api/me", Some(&fresh)).await.json();
    assert_eq!(me["menus"]["cloud_mail_address"]["available"], true, "{me}");
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, "0000000002@g.ecc.u-tokyo.ac.jp");
    assert!(mail[0].body.contains("ヘルプデスク") && !mail[0].body.contains("Vq7#tLm2-Xs8"), "{}", mail[0].body);
    let audit = env.app().store.audit_of("utokyo#0000000002", 5).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "account_password.changed"), "{audit:?}");
    assert!(!format!("{audit:?}").contains("Vq7#tLm2-Xs8") && !format!("{audit:?}").contains("argon2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_2_every_attempt_is_recorded_with_source_and_browser_newest_first() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let attacker = Env::client_from("127.0.0.2");
    for _ in 0..6 {
        env.login_with(&attacker, "utokyo", "0000000001", "Guess-0").await;
    }
    env.set_clock("2026-11-22T10:01:00+09:00").await;
    let own = env
        .raw(
            reqwest::Method::POST,
            "/api/session",
            None,
            Some(
                json!({ "realm": "utokyo", "account": "0000000001", "password": "Demo-Student-1" })
                    .to_string()
                    .into_bytes(),
            ),
            &[("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1")],
        )
        .await;
    let token = own.json()["token"].as_str().unwrap().to_owned();
    // Nothing for an account that does not exist.
    env.login("utokyo", "0000000077", "Guess-0").await;
    let r = env.get("/api/account/sign-ins", Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.json()["items"].as_array().unwrap().clone();
    let results: Vec<&str> = items.iter().map(|i| i["result"].as_str().unwrap()).collect();
    assert_eq!(
        results,
        ["success", "locked", "wrong_password", "wrong_password", "wrong_password", "wrong_password", "wrong_password"]
    );
    assert_eq!(items[0]["user_agent"], "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1");
    assert_eq!(items[0]["source_ip"], "127.0.0.1");
    assert_eq!(
        (items[1]["source_ip"].clone(), items[1]["at"].clone()),
        (json!("127.0.0.2"), json!("2026-11-22T10:00:00+09:00")),
        "the lockout and the source that caused it"
    );
    assert!(!r.text.contains("Guess-0"), "no password is kept");
    let all = env.dump("sign-ins").await;
    assert!(!format!("{all:?}").contains("0000000077"), "nothing for the unknown account");
    let records: Vec<_> =
        all.into_iter().filter(|r| shared::store::get_s(r, "pk") == Some("utokyo#0000000001")).collect();
    assert_eq!(records.len(), 7);
    let expires: i64 = records[0]["expires"].as_n().unwrap().parse().unwrap();
    assert!((89..=91).contains(&((expires - env.now().timestamp()) / 86_400)), "kept 90 days");
    // The help desk sees them on the account page.
    let page = env.get("/api/admin/accounts/0000000001", Some(&env.token("0000000009"))).await.json();
    assert_eq!(page["sign_ins"].as_array().unwrap().len(), 7, "{page}");
    assert_eq!(page["sign_ins"][1]["result"], "locked");
}
