//! R-MENU-1..4 for every demo account: which menu items are available, and that an unavailable
//! item's reason is exactly the code its action answers.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::Env;

const MENUS: [&str; 6] =
    ["remote_access", "cloud_mail_address", "cloud_mail_password", "eccs_usage", "eccs_suspension", "eccs_proxy"];

/// `None`: available; `Some(code)`: unavailable for that reason.
fn expected(account: &str) -> [Option<&'static str>; 6] {
    const NFS: Option<&str> = Some("not_faculty_or_staff");
    const IPC: Option<&str> = Some("initial_password_not_changed");
    const RR: Option<&str> = Some("eccs_right_required");
    const AV: Option<&str> = Some("eccs_right_already_valid");
    const NV: Option<&str> = Some("eccs_right_not_valid");
    const PP: Option<&str> = Some("proxy_permission_required");
    match account {
        "0000000001" | "1000000000" | "1000000199" => [None, None, None, NFS, NFS, NFS],
        "0000000002" => [None, IPC, IPC, NFS, NFS, NFS],
        "0000000003" | "0000000006" | "0000000007" => [RR, None, None, None, NV, PP],
        "0000000004" | "0000000009" => [None, None, None, AV, None, PP],
        "0000000005" => [None, None, None, AV, None, None],
        other => panic!("no expectation for {other}"),
    }
}

const ACCOUNTS: [&str; 11] = [
    "0000000001",
    "0000000002",
    "0000000003",
    "0000000004",
    "0000000005",
    "0000000006",
    "0000000007",
    "0000000009",
    "1000000000",
    "1000000199",
    "ws0001",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_menu_1_2_3_every_demo_account_sees_its_menus() {
    let env = Env::start().await;
    for account in ACCOUNTS {
        let me = env.get("/api/me", Some(&env.token(account))).await;
        assert_eq!(me.status, StatusCode::OK, "{account}: {}", me.text);
        let menus = &me.json()["menus"];
        if account == "ws0001" {
            for m in MENUS {
                assert_eq!(menus[m], json!({ "available": false, "reason": "realm_not_allowed" }), "{account} {m}");
            }
            assert_eq!(menus["workshop_password"]["available"], true);
            continue;
        }
        for (m, want) in MENUS.iter().zip(expected(account)) {
            let want = match want {
                None => json!({ "available": true, "reason": null }),
                Some(code) => json!({ "available": false, "reason": code }),
            };
            assert_eq!(menus[*m], want, "{account} {m}");
        }
    }
    // The revoked account has no menus at all: its token is refused.
    assert_eq!(env.get("/api/me", Some(&env.token("0000000008"))).await.status, StatusCode::UNAUTHORIZED);
}

/// The action behind each menu item, with a body that cannot succeed by accident where that
/// matters (a policy-breaking password).
fn action(menu: &str, today: chrono::NaiveDate) -> (Method, String, Option<Value>) {
    match menu {
        "remote_access" => (Method::PUT, "/api/remote-access".into(), Some(json!({ "enabled": true }))),
        "cloud_mail_address" => (Method::GET, "/api/cloud-mail/address".into(), None),
        "cloud_mail_password" => {
            (Method::PUT, "/api/cloud-mail/password".into(), Some(json!({ "current_password": "x", "password": "x" })))
        }
        "eccs_usage" => (Method::POST, "/api/applications".into(), Some(json!({ "type": "eccs_usage" }))),
        "eccs_suspension" => (
            Method::POST,
            "/api/applications".into(),
            Some(json!({ "type": "eccs_suspension", "stop_date": (today + chrono::Duration::days(60)).to_string() })),
        ),
        _ => (Method::GET, "/api/proxy-targets/0000000006".into(), None),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_menu_4_an_unavailable_items_reason_is_the_code_its_action_gives() {
    let env = Env::start().await;
    let mut checked = 0;
    for account in ACCOUNTS {
        let token = env.token(account);
        for m in MENUS {
            // Read again each time: an available action changes what is available next.
            let menus = env.get("/api/me", Some(&token)).await.json()["menus"].clone();
            let (method, path, body) = action(m, env.today());
            let r = env.call(method, &path, Some(&token), body).await;
            match menus[m]["reason"].as_str() {
                Some(reason) => {
                    assert_eq!(r.code(), reason, "{account} {m}: {}", r.text);
                    checked += 1;
                }
                None => assert!(
                    r.status.is_success() || r.code() == "password_policy" || r.code() == "invalid_credentials",
                    "{account} {m} is available but its action said {}",
                    r.text
                ),
            }
        }
    }
    assert!(checked >= 30, "only {checked} unavailable items compared");
}
