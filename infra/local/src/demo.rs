//! The demo data of SPEC §4, the same every time: accounts that show each path through the
//! menus. An account that already exists is kept as it is, so loading twice never undoes what a
//! user did. Dates are relative to "today" by the Clock: every valid_until is at least a year
//! after the load.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{Datelike, Duration, NaiveDate};
use shared::App;
use shared::domain::account::{Account, Department, Kind, Name, Role, Status, WorkshopAccount};
use shared::domain::{mail_address, password, time};
use shared::store::accounts::{account_item, workshop_item};
use shared::store::{Item, b, s};

pub struct DemoLogin {
    pub realm: &'static str,
    pub account: &'static str,
    pub password: &'static str,
    pub what: &'static str,
}

/// The logins the runner prints at start.
pub const LOGINS: [DemoLogin; 11] = [
    DemoLogin { realm: "utokyo", account: "0000000001", password: "Demo-Student-1", what: "student, right valid" },
    DemoLogin {
        realm: "utokyo",
        account: "0000000002",
        password: "Demo-Student-2",
        what: "student, initial password NOT changed",
    },
    DemoLogin { realm: "utokyo", account: "0000000003", password: "Demo-Faculty-3", what: "faculty, no right" },
    DemoLogin { realm: "utokyo", account: "0000000004", password: "Demo-Faculty-4", what: "faculty D02, right valid" },
    DemoLogin {
        realm: "utokyo",
        account: "0000000005",
        password: "Demo-Staff-5",
        what: "staff, proxy permission for D01",
    },
    DemoLogin {
        realm: "utokyo",
        account: "0000000006",
        password: "Demo-Staff-6",
        what: "staff, no right (proxy target)",
    },
    DemoLogin {
        realm: "utokyo",
        account: "0000000007",
        password: "Demo-Staff-7",
        what: "staff D02, outside 5's scope",
    },
    DemoLogin { realm: "utokyo", account: "0000000008", password: "Demo-Staff-8", what: "revoked" },
    DemoLogin { realm: "utokyo", account: "0000000009", password: "Demo-Operator-9", what: "operator" },
    DemoLogin {
        realm: "utokyo",
        account: "1000000000",
        password: "Demo-Bulk-Pass",
        what: "…1000000199: bulk students",
    },
    DemoLogin { realm: "workshop", account: "ws0001", password: "Demo-Workshop-1", what: "workshop \"Intro to Unix\"" },
];

pub const BULK_FIRST: u64 = 1_000_000_000;
pub const BULK_COUNT: u64 = 200;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub created: usize,
    pub kept: usize,
}

fn dept(code: &str) -> Department {
    let (ja, en) = match code {
        "D00" => ("情報基盤センター", "Information Technology Center"),
        "D01" => ("教養学部", "College of Arts and Sciences"),
        "D02" => ("工学部", "Faculty of Engineering"),
        _ => ("理学部", "Faculty of Science"),
    };
    Department { code: code.into(), ja: ja.into(), en: en.into() }
}

/// The next 31 March at least a year after `today`: the end of an academic year.
pub fn demo_valid_until(today: NaiveDate) -> NaiveDate {
    let year_later = today + Duration::days(366);
    let this_year = NaiveDate::from_ymd_opt(year_later.year(), 3, 31).unwrap_or(year_later);
    if this_year >= year_later {
        this_year
    } else {
        NaiveDate::from_ymd_opt(year_later.year() + 1, 3, 31).unwrap_or(year_later)
    }
}

struct Person {
    id: String,
    kind: Kind,
    name: (&'static str, &'static str),
    dept: &'static str,
    right: bool,
    initial_changed: bool,
    status: Status,
    proxy: Vec<String>,
    operator: bool,
    password: &'static str,
}

fn people() -> Vec<Person> {
    let p = |id: &str, kind, name, dept, right, password| Person {
        id: id.into(),
        kind,
        name,
        dept,
        right,
        initial_changed: true,
        status: Status::Active,
        proxy: vec![],
        operator: false,
        password,
    };
    let mut list = vec![
        p("0000000001", Kind::Student, ("東大 太郎", "Taro Todai"), "D01", true, "Demo-Student-1"),
        Person {
            initial_changed: false,
            ..p("0000000002", Kind::Student, ("本郷 花子", "Hanako Hongo"), "D01", true, "Demo-Student-2")
        },
        p("0000000003", Kind::Faculty, ("駒場 一郎", "Ichiro Komaba"), "D01", false, "Demo-Faculty-3"),
        p("0000000004", Kind::Faculty, ("柏 次郎", "Jiro Kashiwa"), "D02", true, "Demo-Faculty-4"),
        Person {
            proxy: vec!["D01".into()],
            ..p("0000000005", Kind::Staff, ("弥生 三郎", "Saburo Yayoi"), "D01", true, "Demo-Staff-5")
        },
        p("0000000006", Kind::Staff, ("白金 四郎", "Shiro Shirokane"), "D01", false, "Demo-Staff-6"),
        p("0000000007", Kind::Staff, ("中野 五郎", "Goro Nakano"), "D02", false, "Demo-Staff-7"),
        Person {
            status: Status::Revoked,
            ..p("0000000008", Kind::Staff, ("戸田 六郎", "Rokuro Toda"), "D01", false, "Demo-Staff-8")
        },
        Person {
            operator: true,
            ..p("0000000009", Kind::Staff, ("情報 管理者", "Helpdesk Operator"), "D00", true, "Demo-Operator-9")
        },
    ];
    for n in BULK_FIRST..BULK_FIRST + BULK_COUNT {
        list.push(p(&format!("{n:010}"), Kind::Student, ("学生 一括", "Bulk Student"), "D03", true, "Demo-Bulk-Pass"));
    }
    list
}

/// Loads the demo accounts, their directory entries and the remote-access settings (capacity
/// 1000), keeping whatever already exists.
pub async fn load(app: &App) -> Result<Loaded, String> {
    let today = time::today(app.clock.now());
    let valid_until = demo_valid_until(today);
    let valid_from = NaiveDate::from_ymd_opt(today.year() - 1, 4, 1).unwrap_or(today);
    let mut loaded = Loaded::default();
    for person in people() {
        let hash = demo_hash(person.password).await?;
        let account = Account {
            status: person.status,
            initial_password_changed: person.initial_changed,
            password_hash: hash,
            right_until: person.right.then_some(valid_until),
            proxy_scope: person.proxy,
            roles: if person.operator { vec![Role::Operator] } else { vec![] },
            birth_date: (person.id == "0000000001").then(|| NaiveDate::from_ymd_opt(2005, 4, 2)).flatten(),
            phone: (person.id == "0000000001").then(|| "090-1234-5678".to_owned()),
            ..Account::new(
                person.id.clone(),
                person.kind,
                Name { ja: person.name.0.into(), en: person.name.1.into() },
                dept(person.dept),
                (valid_from, valid_until),
                mail_address::initial_address(&person.id, &app.mail_domain),
            )
        };

        let created =
            put_new(app, &app.store.tables.accounts, "pk", account_item(&account).map_err(|e| e.to_string())?).await?;
        if created {
            loaded.created += 1;
            let directory = Item::from([
                ("pk".to_owned(), s(account.id.clone())),
                ("account".to_owned(), s(account.id.clone())),
                ("mail_address".to_owned(), s(account.mail_address.clone())),
                ("mail_enabled".to_owned(), b(account.status == Status::Active)),
                ("eccs_enabled".to_owned(), b(account.right_until.is_some() && account.status == Status::Active)),
                ("remote_access_allowed".to_owned(), b(false)),
            ]);
            put_new(app, &app.store.tables.directory, "pk", directory).await?;
        } else {
            loaded.kept += 1;
        }
    }
    let workshop = WorkshopAccount {
        id: "ws0001".into(),
        workshop_name: "Intro to Unix".into(),
        valid_until: today + Duration::days(365),
        status: Status::Active,
        password_hash: demo_hash("Demo-Workshop-1").await?,
        password_changed_at: None,
        credentials_version: 0,
    };
    if put_new(app, &app.store.tables.accounts, "pk", workshop_item(&workshop).map_err(|e| e.to_string())?).await? {
        loaded.created += 1;
    } else {
        loaded.kept += 1;
    }
    let settings = Item::from([
        ("pk".to_owned(), s(shared::store::settings::REMOTE_ACCESS_KEY)),
        ("capacity".to_owned(), shared::store::n(shared::store::settings::DEFAULT_CAPACITY)),
        ("in_use".to_owned(), shared::store::n(0)),
    ]);
    put_new(app, &app.store.tables.settings, "pk", settings).await?;
    Ok(loaded)
}

/// The argon2id hash of a demo password, computed once per process: bulk accounts share one
/// hash (one salt) — acceptable for demo data, and it keeps loading fast.
async fn demo_hash(password: &'static str) -> Result<String, String> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(h) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(password) {
        return Ok(h.clone());
    }
    let h = tokio::task::spawn_blocking(move || password::hash(password)).await.map_err(|e| e.to_string())??;
    cache.lock().unwrap_or_else(|p| p.into_inner()).insert(password, h.clone());
    Ok(h)
}

/// Puts `item` unless an item with its key exists; returns whether it was created.
async fn put_new(app: &App, table: &str, key: &str, item: Item) -> Result<bool, String> {
    let result = app
        .store
        .db
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#k)")
        .expression_attribute_names("#k", key)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(aws_sdk_dynamodb::error::SdkError::ServiceError(se))
            if matches!(
                se.err(),
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(_)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(format!("{table}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_dates_are_at_least_a_year_after_the_load() {
        for today in ["2026-11-22", "2026-03-31", "2026-04-01", "2027-02-28"] {
            let today: NaiveDate = today.parse().unwrap();
            let until = demo_valid_until(today);
            assert!(until >= today + Duration::days(365), "{today} → {until}");
            assert_eq!((until.month(), until.day()), (3, 31));
        }
    }
}
