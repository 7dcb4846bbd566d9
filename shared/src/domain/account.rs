//! Accounts (R-ACC) and what they may do (R-MENU). Pure: every rule takes the account and "today"
//! and returns a decision, and the same check serves the menu (`GET /api/me`) and the action, so
//! the menu's reason is always the code the action would give (R-MENU-4).
//!
//! The structs here are also the DynamoDB items of the `accounts` table (through `serde_dynamo`);
//! attribute names are the field names.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::time::stamp_serde;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Realm {
    /// The university account (10-digit common ID).
    Utokyo,
    /// Workshop (training) accounts, R-ACC-2.
    Workshop,
}

impl Realm {
    pub fn as_str(self) -> &'static str {
        match self {
            Realm::Utokyo => "utokyo",
            Realm::Workshop => "workshop",
        }
    }

    /// Whether `id` has this realm's shape. Anything else cannot exist and is refused
    /// before any storage key is made from it.
    pub fn is_valid_id(self, id: &str) -> bool {
        match self {
            Realm::Utokyo => id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit()),
            Realm::Workshop => {
                (1..=32).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            }
        }
    }
}

/// The partition key of an account item: `utokyo#0000000001`, `workshop#ws0001`.
pub fn account_key(realm: Realm, id: &str) -> String {
    format!("{}#{id}", realm.as_str())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Student,
    Faculty,
    Staff,
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Student => "student",
            Kind::Faculty => "faculty",
            Kind::Staff => "staff",
            Kind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Revoked,
    /// Workshop accounts past their valid_until, set by the daily sweep.
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Name {
    pub ja: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub code: String,
    pub ja: String,
    pub en: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Operator,
}

/// A UTokyo account (R-ACC-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub kind: Kind,
    pub name: Name,
    pub department: Department,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub status: Status,
    pub initial_password_changed: bool,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Last day (inclusive) of the ECCS usage right; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_until: Option<NaiveDate>,
    /// First day without the right after a suspension (R-APP-SUS-2); absent when none is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_stop_on: Option<NaiveDate>,
    #[serde(default)]
    pub remote_access: bool,
    /// The current cloud-mail address (what the mail system has).
    pub mail_address: String,
    /// When the last address change was accepted (R-CMA-3).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub mail_changed_at: Option<DateTime<Utc>>,
    /// Department codes this account may proxy-apply for; `*` for all (R-APP-PROXY).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_scope: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Used only by the password policy (R-PWD-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// R-LC-3: the SHA-256 of the account's one-time activation key, while one is outstanding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_key_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub activation_expires_at: Option<DateTime<Utc>>,
    /// R-CRED-4: the identity verification provider's account linked by an OpenID Connect
    /// sign-in. (The unverified flag `identity_linked_at` of earlier versions is ignored.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityLink>,
    /// R-LC-5: a renewal has been asked for; no expiry notice meanwhile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub renewal_pending: bool,
    /// R-LC-7: where cloud mail is forwarded, as the mail system has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_forwarding: Option<String>,
    /// Raised by every change of credentials (a reset by activation key, a lock): tokens carry
    /// the version they were issued at, and an older one stops working (R-CRED-1, R-SEC-4).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub credentials_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub credentials_changed_at: Option<DateTime<Utc>>,
    /// R-SEC-4: locked by the help desk; nothing but the help desk opens it (not an import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    /// R-CRED-3: the second factor, enrolled or waiting for its confirming code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<crate::domain::second_factor::SecondFactor>,
}

/// R-SEC-4: why and by whom an account was locked.
/// R-CRED-4: who the person is at the identity verification provider: the ID token's `iss` and
/// `sub`, verified at the sign-in that made the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLink {
    pub issuer: String,
    pub subject: String,
    #[serde(with = "stamp_serde")]
    pub linked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub reason: String,
    /// The operator's account id.
    pub by: String,
    /// Stored stamp.
    pub at: String,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A workshop account (R-ACC-2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkshopAccount {
    pub id: String,
    pub workshop_name: String,
    pub valid_until: NaiveDate,
    pub status: Status,
    pub password_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub password_changed_at: Option<DateTime<Utc>>,
    /// As on [`Account::credentials_version`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub credentials_version: u64,
}

/// Whatever a token's subject turns out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Holder {
    Utokyo(Box<Account>),
    Workshop(WorkshopAccount),
}

impl Holder {
    pub fn realm(&self) -> Realm {
        match self {
            Holder::Utokyo(_) => Realm::Utokyo,
            Holder::Workshop(_) => Realm::Workshop,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Holder::Utokyo(a) => &a.id,
            Holder::Workshop(w) => &w.id,
        }
    }

    pub fn password_hash(&self) -> &str {
        match self {
            Holder::Utokyo(a) => &a.password_hash,
            Holder::Workshop(w) => &w.password_hash,
        }
    }

    pub fn credentials_version(&self) -> u64 {
        match self {
            Holder::Utokyo(a) => a.credentials_version,
            Holder::Workshop(w) => w.credentials_version,
        }
    }

    /// May log in and use a token: active, within its validity and not locked (R-LOGIN-2,
    /// R-SEC-4).
    pub fn is_usable(&self, today: NaiveDate) -> bool {
        match self {
            Holder::Utokyo(a) => a.is_usable(today),
            Holder::Workshop(w) => w.status == Status::Active && today <= w.valid_until,
        }
    }
}

impl Account {
    /// An active account with nothing beyond who it is, its dates and its address: no password
    /// yet, no right, roles, link, lock or second factor. The import, the demo data and the
    /// tests start from it (`Account { …, ..Account::new(…) }`).
    pub fn new(
        id: String,
        kind: Kind,
        name: Name,
        department: Department,
        (valid_from, valid_until): (NaiveDate, NaiveDate),
        mail_address: String,
    ) -> Self {
        Self {
            id,
            kind,
            name,
            department,
            valid_from,
            valid_until,
            status: Status::Active,
            initial_password_changed: false,
            password_hash: String::new(),
            right_until: None,
            right_stop_on: None,
            remote_access: false,
            mail_address,
            mail_changed_at: None,
            proxy_scope: vec![],
            roles: vec![],
            birth_date: None,
            phone: None,
            activation_key_hash: None,
            activation_expires_at: None,
            identity: None,
            renewal_pending: false,
            mail_forwarding: None,
            credentials_version: 0,
            credentials_changed_at: None,
            lock: None,
            second_factor: None,
        }
    }

    pub fn key(&self) -> String {
        account_key(Realm::Utokyo, &self.id)
    }

    /// Active, within its dates and not locked: may log in, use a token, a link or a key
    /// (R-LOGIN-2, R-SEC-3, R-SEC-4).
    pub fn is_usable(&self, today: NaiveDate) -> bool {
        self.status == Status::Active && self.valid_from <= today && today <= self.valid_until && self.lock.is_none()
    }

    /// The right is valid today: granted, not past its last day, and not stopped.
    pub fn right_valid(&self, today: NaiveDate) -> bool {
        match self.right_until {
            Some(until) => today <= until && self.right_stop_on.is_none_or(|stop| today < stop),
            None => false,
        }
    }

    pub fn is_faculty_or_staff(&self) -> bool {
        matches!(self.kind, Kind::Faculty | Kind::Staff)
    }

    pub fn is_operator(&self) -> bool {
        self.roles.contains(&Role::Operator)
    }

    /// R-MENU-1.
    pub fn check_remote_access(&self, today: NaiveDate) -> Result<(), ApiError> {
        if self.right_valid(today) { Ok(()) } else { Err(ApiError::EccsRightRequired) }
    }

    /// R-MENU-2: cloud-mail address and password, whatever the ECCS right.
    pub fn check_cloud_mail(&self) -> Result<(), ApiError> {
        if self.initial_password_changed { Ok(()) } else { Err(ApiError::InitialPasswordNotChanged) }
    }

    /// R-MENU-3: the application menu.
    pub fn check_application_menu(&self) -> Result<(), ApiError> {
        if self.is_faculty_or_staff() { Ok(()) } else { Err(ApiError::NotFacultyOrStaff) }
    }

    /// R-APP-USE-1.
    pub fn check_usage_application(&self, today: NaiveDate) -> Result<(), ApiError> {
        self.check_application_menu()?;
        if self.right_valid(today) { Err(ApiError::EccsRightAlreadyValid) } else { Ok(()) }
    }

    /// R-APP-SUS-1.
    pub fn check_suspension_application(&self, today: NaiveDate) -> Result<(), ApiError> {
        self.check_application_menu()?;
        if self.right_valid(today) { Ok(()) } else { Err(ApiError::EccsRightNotValid) }
    }

    /// R-MENU-3: the proxy application needs a proxy permission.
    pub fn check_proxy_permission(&self) -> Result<(), ApiError> {
        self.check_application_menu()?;
        if self.proxy_scope.is_empty() { Err(ApiError::ProxyPermissionRequired) } else { Ok(()) }
    }

    /// R-APP-PROXY-2: whether this holder's scope covers a department.
    pub fn proxy_covers(&self, department_code: &str) -> bool {
        self.proxy_scope.iter().any(|d| d == "*" || d == department_code)
    }

    /// R-APP-PROXY-2: a target that can receive the right from a proxy application.
    pub fn can_receive_right(&self, today: NaiveDate) -> bool {
        self.status == Status::Active
            && self.valid_from <= today
            && today <= self.valid_until
            && !self.right_valid(today)
    }

    /// The date the daily sweep must next look at this account (R-SWEEP-1), if any.
    pub fn sweep_on(&self) -> Option<NaiveDate> {
        let natural_end = self.right_until.and_then(|d| d.succ_opt());
        match (self.right_stop_on, natural_end) {
            (Some(stop), Some(end)) => Some(stop.min(end)),
            (stop, end) => stop.or(end),
        }
    }

    /// R-MENU-4: every menu item, available or not and why.
    pub fn menus(&self, today: NaiveDate) -> Value {
        json!({
            "remote_access": menu(self.check_remote_access(today)),
            "cloud_mail_address": menu(self.check_cloud_mail()),
            "cloud_mail_password": menu(self.check_cloud_mail()),
            "eccs_usage": menu(self.check_usage_application(today)),
            "eccs_suspension": menu(self.check_suspension_application(today)),
            "eccs_proxy": menu(self.check_proxy_permission()),
        })
    }

    /// The profile part of `GET /api/me`: never the hash, birth date or phone.
    pub fn profile(&self) -> Value {
        json!({
            "account": self.id,
            "realm": "utokyo",
            "kind": self.kind,
            "name": self.name,
            "department": self.department,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "initial_password_changed": self.initial_password_changed,
            "operator": self.is_operator(),
            "proxy_scope": self.proxy_scope,
            "identity_linked": self.identity.is_some(),
        })
    }

    pub fn right_summary(&self, today: NaiveDate) -> Value {
        json!({
            "valid": self.right_valid(today),
            "valid_until": self.right_until,
            "stop_on": self.right_stop_on,
        })
    }
}

impl WorkshopAccount {
    pub fn key(&self) -> String {
        account_key(Realm::Workshop, &self.id)
    }

    /// The day after valid_until, when the daily sweep expires the account (R-SWEEP-1).
    pub fn sweep_on(&self) -> Option<NaiveDate> {
        if self.status == Status::Active { self.valid_until.succ_opt() } else { None }
    }

    /// Workshop accounts see every menu as unavailable except their own password (R-ACC-2).
    pub fn menus(&self) -> Value {
        let no = menu(Err(ApiError::RealmNotAllowed));
        json!({
            "remote_access": no,
            "cloud_mail_address": no,
            "cloud_mail_password": no,
            "eccs_usage": no,
            "eccs_suspension": no,
            "eccs_proxy": no,
            "workshop_password": menu(Ok(())),
        })
    }

    pub fn profile(&self) -> Value {
        json!({
            "account": self.id,
            "realm": "workshop",
            "workshop_name": self.workshop_name,
            "valid_until": self.valid_until,
        })
    }
}

fn menu(check: Result<(), ApiError>) -> Value {
    match check {
        Ok(()) => json!({ "available": true, "reason": null }),
        Err(e) => json!({ "available": false, "reason": e.code() }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A default account for the pure-rule tests.
    pub fn account(kind: Kind) -> Account {
        Account {
            initial_password_changed: true,
            ..Account::new(
                "0000000100".into(),
                kind,
                Name { ja: "東大 太郎".into(), en: "Taro Todai".into() },
                Department { code: "D01".into(), ja: "教養学部".into(), en: "College of Arts and Sciences".into() },
                (date("2025-04-01"), date("2028-03-31")),
                "0000000100@g.ecc.u-tokyo.ac.jp".into(),
            )
        }
    }

    #[test]
    fn r_menu_1_remote_access_needs_a_valid_right() {
        let today = date("2026-11-22");
        let mut a = account(Kind::Student);
        assert_eq!(a.check_remote_access(today), Err(ApiError::EccsRightRequired));
        a.right_until = Some(date("2026-11-22"));
        assert_eq!(a.check_remote_access(today), Ok(()));
        assert_eq!(a.check_remote_access(date("2026-11-23")), Err(ApiError::EccsRightRequired));
        a.right_stop_on = Some(date("2026-11-22"));
        assert_eq!(a.check_remote_access(today), Err(ApiError::EccsRightRequired));
    }

    #[test]
    fn r_menu_2_cloud_mail_needs_the_initial_password_changed_whatever_the_right() {
        let mut a = account(Kind::Student);
        assert_eq!(a.check_cloud_mail(), Ok(()));
        a.initial_password_changed = false;
        a.right_until = Some(date("2030-01-01"));
        assert_eq!(a.check_cloud_mail(), Err(ApiError::InitialPasswordNotChanged));
    }

    #[test]
    fn r_menu_3_application_menu_is_for_faculty_and_staff_and_proxy_needs_permission() {
        assert_eq!(account(Kind::Student).check_application_menu(), Err(ApiError::NotFacultyOrStaff));
        assert_eq!(account(Kind::Other).check_application_menu(), Err(ApiError::NotFacultyOrStaff));
        let mut staff = account(Kind::Staff);
        assert_eq!(staff.check_proxy_permission(), Err(ApiError::ProxyPermissionRequired));
        staff.proxy_scope = vec!["D01".into()];
        assert_eq!(staff.check_proxy_permission(), Ok(()));
        assert!(staff.proxy_covers("D01") && !staff.proxy_covers("D02"));
        staff.proxy_scope = vec!["*".into()];
        assert!(staff.proxy_covers("D99"));
    }

    #[test]
    fn r_menu_4_menu_reason_is_the_action_code() {
        let today = date("2026-11-22");
        let a = account(Kind::Student);
        let m = a.menus(today);
        assert_eq!(m["remote_access"]["reason"], "eccs_right_required");
        assert_eq!(m["eccs_usage"]["reason"], "not_faculty_or_staff");
        assert_eq!(m["cloud_mail_address"]["available"], true);
        let mut f = account(Kind::Faculty);
        f.right_until = Some(date("2027-03-31"));
        let m = f.menus(today);
        assert_eq!(m["eccs_usage"]["reason"], "eccs_right_already_valid");
        assert_eq!(m["eccs_suspension"]["available"], true);
        assert_eq!(m["eccs_proxy"]["reason"], "proxy_permission_required");
    }

    #[test]
    fn r_sweep_1_sweep_date_is_the_earlier_of_stop_and_natural_end() {
        let mut a = account(Kind::Staff);
        assert_eq!(a.sweep_on(), None);
        a.right_until = Some(date("2027-03-31"));
        assert_eq!(a.sweep_on(), Some(date("2027-04-01")));
        a.right_stop_on = Some(date("2026-12-01"));
        assert_eq!(a.sweep_on(), Some(date("2026-12-01")));
    }

    #[test]
    fn ids_have_their_realm_shape() {
        assert!(Realm::Utokyo.is_valid_id("0000000001"));
        assert!(!Realm::Utokyo.is_valid_id("000000001"));
        assert!(!Realm::Utokyo.is_valid_id("00000000O1"));
        assert!(Realm::Workshop.is_valid_id("ws0001"));
        assert!(!Realm::Workshop.is_valid_id("ws 0001"));
        assert!(!Realm::Workshop.is_valid_id(""));
    }
}
