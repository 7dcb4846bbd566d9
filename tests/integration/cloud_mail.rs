//! R-CMA-1..4, R-CMP-1..3, R-PWD over HTTP, with the Clock set for the time edges.

use reqwest::StatusCode;
use serde_json::json;
use shared::store::get_s;

use crate::harness::Env;

const T0: &str = "2026-11-22T10:20:00+09:00";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_1_2_an_address_change_is_pending_until_the_next_minute_0() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let t = env.token("0000000001");
    let before = env.get("/api/cloud-mail/address", Some(&t)).await.json();
    assert_eq!(
        before,
        json!({ "address": "0000000001@g.ecc.u-tokyo.ac.jp", "pending": null, "next_change_allowed_at": null, "pending_password": null })
    );
    let r = env.put("/api/cloud-mail/address", Some(&t), json!({ "address": "Taro.Todai" })).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({ "pending": { "address": "taro.todai@g.ecc.u-tokyo.ac.jp", "effective_at": "2026-11-22T11:00:00+09:00" } })
    );
    let after = env.get("/api/cloud-mail/address", Some(&t)).await.json();
    assert_eq!(after["address"], "0000000001@g.ecc.u-tokyo.ac.jp", "not applied before the sync");
    assert_eq!(after["pending"]["address"], "taro.todai@g.ecc.u-tokyo.ac.jp");
    assert_eq!(after["pending"]["effective_at"], "2026-11-22T11:00:00+09:00");
    assert_eq!(after["pending"]["state"], "pending");
    // R-CMA-3: the 30 days run from the applied change; a pending one can still be replaced.
    assert_eq!(after["next_change_allowed_at"], json!(null));
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 1);
    let applied = env.get("/api/cloud-mail/address", Some(&env.token("0000000001"))).await.json();
    assert_eq!(applied["address"], "taro.todai@g.ecc.u-tokyo.ac.jp");
    assert_eq!(applied["next_change_allowed_at"], "2026-12-22T11:00:00+09:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_2_at_10_59_59_it_applies_at_11_and_at_11_00_00_at_12() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:59:59+09:00").await;
    let a = env.put("/api/cloud-mail/address", Some(&env.token("0000000001")), json!({ "address": "edge.one" })).await;
    assert_eq!(a.json()["pending"]["effective_at"], "2026-11-22T11:00:00+09:00");
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    let b = env.put("/api/cloud-mail/address", Some(&env.token("1000000000")), json!({ "address": "edge.two" })).await;
    assert_eq!(b.json()["pending"]["effective_at"], "2026-11-22T12:00:00+09:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_1_addresses_that_break_the_rule_are_refused_with_their_reasons() {
    let env = Env::start().await;
    let t = env.token("0000000001");
    for (address, reason) in [
        ("ab", "too_short"),
        ("taro+tag", "invalid_character"),
        (".taro", "must_start_and_end_with_letter_or_digit"),
        ("ta..ro", "consecutive_dots"),
        ("0000000004", "all_digits"),
        ("postmaster", "reserved"),
        ("taro@gmail.com", "wrong_domain"),
        ("tаro", "invalid_character"),
        ("ta\u{0}ro", "invalid_character"),
        ("0000000004@g.ecc.u-tokyo.ac.jp", "all_digits"),
        // Their own default address: said to be theirs already, not to break a rule.
        ("0000000001@g.ecc.u-tokyo.ac.jp", "same_as_current"),
        ("０００００００００１", "same_as_current"),
    ] {
        let r = env.put("/api/cloud-mail/address", Some(&t), json!({ "address": address })).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_address"),
            "{address}: {}",
            r.text
        );
        let reasons = r.json()["error"]["details"]["reasons"].clone();
        assert!(reasons.as_array().unwrap().contains(&json!(reason)), "{address}: {reasons}");
    }
    assert!(env.app().store.changes_of("0000000001").await.unwrap().is_empty(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_3_thirty_days_after_the_applied_change_minus_a_second_is_refused_plus_a_second_accepted() {
    let env = Env::start().await;
    let t = || env.token("0000000001");
    env.set_clock("2026-11-01T08:20:00+09:00").await;
    assert_eq!(
        env.put("/api/cloud-mail/address", Some(&t()), json!({ "address": "first.name" })).await.status,
        StatusCode::ACCEPTED
    );
    env.set_clock("2026-11-01T09:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 1);
    env.set_clock("2026-12-01T08:59:59+09:00").await;
    let early = env.put("/api/cloud-mail/address", Some(&t()), json!({ "address": "second.name" })).await;
    assert_eq!((early.status, early.code().as_str()), (StatusCode::CONFLICT, "change_too_soon"), "{}", early.text);
    assert_eq!(early.json()["error"]["details"]["next_change_allowed_at"], "2026-12-01T09:00:00+09:00");
    assert!(early.text.contains("30日間"));
    env.set_clock("2026-12-01T09:00:01+09:00").await;
    let later = env.put("/api/cloud-mail/address", Some(&t()), json!({ "address": "second.name" })).await;
    assert_eq!(later.status, StatusCode::ACCEPTED, "{}", later.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_3_concurrent_changes_by_one_account_leave_one_pending_and_no_stray_reservation() {
    let env = Env::start().await;
    let t = env.token("0000000004");
    let requests = (0..8).map(|i| {
        let (env, t) = (&env, t.clone());
        async move { env.put("/api/cloud-mail/address", Some(&t), json!({ "address": format!("racer.{i}") })).await }
    });
    let responses = futures::future::join_all(requests).await;
    let texts = responses.iter().map(|r| &r.text).collect::<Vec<_>>();
    assert!(responses.iter().any(|r| r.status == StatusCode::ACCEPTED), "{texts:?}");
    // Each either replaced the one before it or was told to retry: never a 500, never two.
    assert!(
        responses.iter().all(|r| r.status == StatusCode::ACCEPTED || r.code() == "service_unavailable"),
        "{texts:?}"
    );
    let pending = env.app().store.changes_of("0000000004").await.unwrap();
    assert_eq!(pending.len(), 1);
    // Only the pending address is still reserved: every replaced one was released.
    let reserved: Vec<String> = env
        .dump("addresses")
        .await
        .iter()
        .filter(|i| get_s(i, "owner") == Some("0000000004"))
        .filter_map(|i| get_s(i, "address").map(str::to_owned))
        .collect();
    assert_eq!(reserved, vec![pending[0].address.clone().unwrap()], "{reserved:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_4_an_address_once_given_is_never_given_to_another_account() {
    let env = Env::start().await;
    env.set_clock("2026-11-01T09:00:00+09:00").await;
    let a = || env.token("0000000001");
    let b = || env.token("0000000004");
    assert_eq!(
        env.put("/api/cloud-mail/address", Some(&a()), json!({ "address": "popular" })).await.status,
        StatusCode::ACCEPTED
    );
    let taken = env.put("/api/cloud-mail/address", Some(&b()), json!({ "address": "popular" })).await;
    assert_eq!((taken.status, taken.code().as_str()), (StatusCode::CONFLICT, "address_taken"));
    // Applied: from now on it is used, and so never free again.
    env.set_clock("2026-11-01T10:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 1);
    // Even after its first owner moves on, the address stays theirs (no mail takeover).
    env.set_clock("2026-12-05T09:00:00+09:00").await;
    assert_eq!(
        env.put("/api/cloud-mail/address", Some(&a()), json!({ "address": "elsewhere" })).await.status,
        StatusCode::ACCEPTED
    );
    env.set_clock("2026-12-05T10:00:00+09:00").await;
    assert_eq!(env.run("sync-hourly", json!({})).await["applied"], 1);
    let still = env.put("/api/cloud-mail/address", Some(&b()), json!({ "address": "POPULAR" })).await;
    assert_eq!(still.code(), "address_taken");
    // The refused attempt did not start B's 30 days.
    assert_eq!(
        env.put("/api/cloud-mail/address", Some(&b()), json!({ "address": "bee" })).await.status,
        StatusCode::ACCEPTED
    );
    // Its owner may take it back after 30 days.
    env.set_clock("2027-01-10T09:00:00+09:00").await;
    assert_eq!(
        env.put("/api/cloud-mail/address", Some(&a()), json!({ "address": "popular" })).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cma_4_two_accounts_racing_for_one_address_get_it_once() {
    let env = Env::start().await;
    let requests = (0..10).map(|i| {
        let env = &env;
        let token = env.token(&format!("{:010}", 1_000_000_000 + i));
        async move { env.put("/api/cloud-mail/address", Some(&token), json!({ "address": "only.one" })).await.status }
    });
    let statuses = futures::future::join_all(requests).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::ACCEPTED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 9);
    let owners: Vec<_> =
        env.dump("addresses").await.iter().filter_map(|i| get_s(i, "owner").map(str::to_owned)).collect();
    assert_eq!(owners.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_menu_2_cloud_mail_needs_the_initial_password_changed() {
    let env = Env::start().await;
    let t = env.token("0000000002");
    for r in [
        env.get("/api/cloud-mail/address", Some(&t)).await,
        env.put("/api/cloud-mail/address", Some(&t), json!({ "address": "hanako" })).await,
        env.put(
            "/api/cloud-mail/password",
            Some(&t),
            json!({ "current_password": "Demo-Student-2", "password": "Kx7#mQ2v-Rt9" }),
        )
        .await,
    ] {
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::FORBIDDEN, "initial_password_not_changed"),
            "{}",
            r.text
        );
    }
    // A faculty member without a right may still use cloud mail.
    let f = env.get("/api/cloud-mail/address", Some(&env.token("0000000003"))).await;
    assert_eq!(f.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_pwd_3_every_broken_rule_is_listed_in_one_answer() {
    let env = Env::start().await;
    let t = env.token("0000000001");
    let r = env
        .put(
            "/api/cloud-mail/password",
            Some(&t),
            json!({ "current_password": "Demo-Student-1", "password": "todai 0402" }),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "password_policy"));
    let v = r.json()["error"]["details"]["violations"].clone();
    for code in ["missing_uppercase", "invalid_character", "contains_name", "contains_birth_date"] {
        assert!(v.as_array().unwrap().contains(&json!(code)), "{code} in {v}");
    }
    for (password, code) in [
        ("Short1a", "too_short"),
        ("Password123", "dictionary_word"),
        ("Kx7#0000000001", "contains_account_id"),
        ("Kx7#mQ2v-09012345678", "contains_phone"),
        ("Kx7#mQ2v-20050402", "contains_birth_date"),
        (&"Aa1".repeat(22), "too_long"),
    ] {
        let r = env
            .put(
                "/api/cloud-mail/password",
                Some(&t),
                json!({ "current_password": "Demo-Student-1", "password": password }),
            )
            .await;
        assert!(
            r.json()["error"]["details"]["violations"].as_array().unwrap().contains(&json!(code)),
            "{password}: {}",
            r.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cmp_2_the_university_password_is_refused_for_cloud_mail() {
    let env = Env::start().await;
    let r = env
        .put(
            "/api/cloud-mail/password",
            Some(&env.token("0000000001")),
            json!({ "current_password": "Demo-Student-1", "password": "Demo-Student-1" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["details"]["violations"], json!(["same_as_account_password"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cmp_1_3_the_last_password_before_the_sync_wins_kept_only_as_a_crypt_hash() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let t = env.token("0000000001");
    let first = env
        .put(
            "/api/cloud-mail/password",
            Some(&t),
            json!({ "current_password": "Demo-Student-1", "password": "Kx7#mQ2v-Rt9" }),
        )
        .await;
    assert_eq!(
        (first.status, first.json()),
        (StatusCode::ACCEPTED, json!({ "effective_at": "2026-11-22T11:00:00+09:00" }))
    );
    env.set_clock("2026-11-22T10:40:00+09:00").await;
    let second = env
        .put(
            "/api/cloud-mail/password",
            Some(&t),
            json!({ "current_password": "Demo-Student-1", "password": "Zw4%pLq8-Nb2" }),
        )
        .await;
    assert_eq!(second.status, StatusCode::ACCEPTED);
    let changes = env.app().store.changes_of("0000000001").await.unwrap();
    assert_eq!(changes.len(), 1, "one pending password per account");
    let crypt = changes[0].password_crypt.clone().unwrap();
    assert!(crypt.starts_with("$6$"));
    assert!(sha_check("Zw4%pLq8-Nb2", &crypt) && !sha_check("Kx7#mQ2v-Rt9", &crypt), "the last one wins");
    let everything = env.dump_all().await;
    for plaintext in ["Kx7#mQ2v-Rt9", "Zw4%pLq8-Nb2"] {
        assert!(!everything.contains(plaintext), "plaintext stored");
    }
    let view = env.get("/api/cloud-mail/address", Some(&t)).await.json();
    assert_eq!(view["pending_password"]["effective_at"], "2026-11-22T11:00:00+09:00");
    assert!(!view.to_string().contains("$6$"), "the hash is not shown either");
}

fn sha_check(password: &str, crypt: &str) -> bool {
    sha_crypt::sha512_check(password, crypt).is_ok()
}
