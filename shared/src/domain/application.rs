//! The application menu (R-APP-USE, R-APP-SUS, R-APP-PROXY): the application records and the
//! pure rules — the stop date, the proxy scope and eligibility. Their storage (one transaction each,
//! with the right, the provisioning change and the audit record) is in `store::applications`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::account::{Account, Realm, account_key};
use crate::domain::time::{self, stamp_serde};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    EccsUsage,
    EccsSuspension,
    EccsProxy,
}

/// The body of `POST /api/applications`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ApplicationRequest {
    EccsUsage {},
    EccsSuspension {
        #[serde(deserialize_with = "crate::domain::time::date_serde::deserialize")]
        stop_date: NaiveDate,
    },
    EccsProxy {
        target: String,
    },
}

/// One application, stored under each account it concerns (applicant and target), so that both
/// see it with one query (R-APP-PROXY-3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// The owner of this copy: an account key.
    pub pk: String,
    /// `created_at#id`: newest last, unique.
    pub sk: String,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ApplicationType,
    pub applicant: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_date: Option<NaiveDate>,
    pub effective_on: NaiveDate,
    #[serde(with = "stamp_serde")]
    pub created_at: DateTime<Utc>,
    /// R-APP-SUS-3: a suspension closed before its day — withdrawn by the applicant, or replaced
    /// by a newer application (whose id is `replaced_by`). Absent while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Closed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Closed {
    Withdrawn,
    Replaced,
}

impl Closed {
    pub fn as_str(self) -> &'static str {
        match self {
            Closed::Withdrawn => "withdrawn",
            Closed::Replaced => "replaced",
        }
    }
}

impl Application {
    pub fn new(
        kind: ApplicationType,
        applicant: &str,
        target: &str,
        stop_date: Option<NaiveDate>,
        effective_on: NaiveDate,
        now: DateTime<Utc>,
    ) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        Self {
            pk: account_key(Realm::Utokyo, target),
            sk: format!("{}#{id}", time::stamp(now)),
            id,
            kind,
            applicant: applicant.to_owned(),
            target: target.to_owned(),
            stop_date,
            effective_on,
            created_at: now,
            closed: None,
            replaced_by: None,
        }
    }

    /// The same application filed under another account.
    pub fn copy_for(&self, owner: &str) -> Self {
        Self { pk: account_key(Realm::Utokyo, owner), ..self.clone() }
    }

    /// `completed` once in effect; a suspension is `scheduled` until its day, unless it was
    /// `withdrawn` or `replaced` before (R-APP-SUS-3).
    pub fn status(&self, today: NaiveDate) -> &'static str {
        match self.closed {
            Some(closed) => closed.as_str(),
            None if self.effective_on <= today => "completed",
            None => "scheduled",
        }
    }

    /// R-APP-SUS-3: a suspension that can still be withdrawn or replaced: open and not yet in
    /// effect (the sweep of its day has not run).
    pub fn is_open_suspension(&self, today: NaiveDate) -> bool {
        self.kind == ApplicationType::EccsSuspension && self.closed.is_none() && self.effective_on > today
    }

    pub fn view(&self, today: NaiveDate) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "applicant": self.applicant,
            "target": self.target,
            "status": self.status(today),
            "stop_date": self.stop_date,
            "effective_on": self.effective_on,
            "created_at": time::rfc3339(self.created_at),
            "replaced_by": self.replaced_by,
        })
    }
}

/// R-APP-SUS-1: the stop date is today or later and not after the right's last day; returns the
/// day the right stops, `max(stop_date, tomorrow)` (R-APP-SUS-2).
pub fn check_stop_date(account: &Account, stop_date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    let latest = account.right_until;
    if stop_date < today || latest.is_some_and(|last| stop_date > last) {
        return Err(ApiError::InvalidStopDate { earliest: today.to_string(), latest: latest.map(|d| d.to_string()) });
    }
    Ok(time::effective_on(stop_date, today))
}

/// R-APP-PROXY-2: whether `holder` may give the right to `target` now. Every "no" is the same
/// answer, whatever the reason.
pub fn check_proxy_target(holder: &Account, target: Option<&Account>, today: NaiveDate) -> Result<(), ApiError> {
    holder.check_proxy_permission()?;
    match target {
        Some(t) if holder.proxy_covers(&t.department.code) && t.can_receive_right(today) => Ok(()),
        _ => Err(ApiError::TargetNotFoundOrNotEligible),
    }
}

/// What a proxy holder sees of a target (R-APP-PROXY-1): name, kind and department only.
pub fn target_view(target: &Account) -> Value {
    json!({
        "account": target.id,
        "name": target.name,
        "kind": target.kind,
        "department": target.department,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::Kind;
    use crate::domain::account::tests::{account, date};

    #[test]
    fn r_app_sus_1_stop_date_between_today_and_valid_until() {
        let today = date("2026-11-22");
        let mut a = account(Kind::Faculty);
        a.right_until = Some(date("2027-03-31"));
        assert_eq!(check_stop_date(&a, today, today), Ok(date("2026-11-23")));
        assert_eq!(check_stop_date(&a, date("2027-03-31"), today), Ok(date("2027-03-31")));
        assert!(matches!(check_stop_date(&a, date("2026-11-21"), today), Err(ApiError::InvalidStopDate { .. })));
        assert!(matches!(check_stop_date(&a, date("2027-04-01"), today), Err(ApiError::InvalidStopDate { .. })));
    }

    #[test]
    fn r_app_proxy_2_missing_out_of_scope_and_ineligible_are_one_answer() {
        let today = date("2026-11-22");
        let mut holder = account(Kind::Staff);
        holder.proxy_scope = vec!["D01".into()];
        let mut target = account(Kind::Staff);
        assert_eq!(check_proxy_target(&holder, Some(&target), today), Ok(()));
        assert_eq!(check_proxy_target(&holder, None, today), Err(ApiError::TargetNotFoundOrNotEligible));
        target.department.code = "D02".into();
        assert_eq!(check_proxy_target(&holder, Some(&target), today), Err(ApiError::TargetNotFoundOrNotEligible));
        target.department.code = "D01".into();
        target.right_until = Some(date("2027-03-31"));
        assert_eq!(check_proxy_target(&holder, Some(&target), today), Err(ApiError::TargetNotFoundOrNotEligible));
        holder.proxy_scope.clear();
        assert_eq!(check_proxy_target(&holder, None, today), Err(ApiError::ProxyPermissionRequired));
    }

    #[test]
    fn r_app_proxy_1_target_view_shows_only_name_kind_department() {
        let mut t = account(Kind::Staff);
        t.birth_date = Some(date("1990-01-01"));
        let v = target_view(&t);
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, vec!["account", "department", "kind", "name"]);
    }

    #[test]
    fn request_bodies_parse_by_type_and_refuse_unknown_fields() {
        let r: ApplicationRequest =
            serde_json::from_str(r#"{"type":"eccs_suspension","stop_date":"2026-12-01"}"#).unwrap();
        assert_eq!(r, ApplicationRequest::EccsSuspension { stop_date: date("2026-12-01") });
        assert!(serde_json::from_str::<ApplicationRequest>(r#"{"type":"eccs_usage","x":1}"#).is_err());
        assert!(
            serde_json::from_str::<ApplicationRequest>(r#"{"type":"eccs_suspension","stop_date":"2026-13-01"}"#)
                .is_err()
        );
    }
}
