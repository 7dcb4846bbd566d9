//! Property tests of the pure rules: the password policy (R-PWD), the address rule (R-CMA-1) and
//! the effective-time rules (R-CMA-2, R-CMP-1, R-APP-SUS-2), over generated inputs.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use proptest::prelude::*;

use crate::domain::mail_address::normalise_address;
use crate::domain::password::{PersonalData, violations};
use crate::domain::time::{effective_on, jst, next_minute_zero};
use crate::error::ApiError;

const DOMAIN: &str = "g.ecc.u-tokyo.ac.jp";

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2000-01-01 .. 2100-01-01, to the millisecond.
    (946_684_800_000i64..4_102_444_800_000).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (0i64..36_500).prop_map(|d| NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default() + Duration::days(d))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn r_pwd_any_input_gets_an_answer_and_each_code_matches_its_rule(p in "\\PC{0,80}") {
        let v = violations(&p, &PersonalData::default());
        let n = p.chars().count();
        prop_assert_eq!(v.contains(&"too_short"), n < 8);
        prop_assert_eq!(v.contains(&"too_long"), n > 64);
        prop_assert_eq!(v.contains(&"missing_digit"), !p.chars().any(|c| c.is_ascii_digit()));
        prop_assert_eq!(v.contains(&"missing_uppercase"), !p.chars().any(|c| c.is_ascii_uppercase()));
        prop_assert_eq!(
            v.contains(&"invalid_character"),
            p.chars().any(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '\\'))
        );
    }

    #[test]
    fn r_pwd_the_account_id_is_found_wherever_it_stands(prefix in "[A-Z][a-z]{2}", suffix in "[#%&][a-z]{2}[0-9]") {
        let person = PersonalData { account_id: "0000000042", ..PersonalData::default() };
        let p = format!("{prefix}0000000042{suffix}");
        prop_assert!(violations(&p, &person).contains(&"contains_account_id"));
    }

    #[test]
    fn r_cma_1_every_accepted_address_keeps_the_rule(local in "[A-Za-z0-9._+-]{0,70}") {
        match normalise_address(&local, DOMAIN) {
            Ok(address) => {
                let (l, d) = address.split_once('@').unwrap_or_default();
                prop_assert_eq!(d, DOMAIN);
                prop_assert!((3..=64).contains(&l.len()));
                prop_assert!(l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')));
                prop_assert!(l.starts_with(|c: char| c.is_ascii_alphanumeric()) && l.ends_with(|c: char| c.is_ascii_alphanumeric()));
                prop_assert!(!l.contains(".."));
                prop_assert!(!l.chars().all(|c| c.is_ascii_digit()));
                // Normalising again changes nothing.
                prop_assert_eq!(normalise_address(&address, DOMAIN).ok(), Some(address.clone()));
            }
            Err(ApiError::InvalidAddress { reasons }) => prop_assert!(!reasons.is_empty()),
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn r_cma_2_a_change_applies_at_the_first_minute_0_after_it(t in instant()) {
        let at = next_minute_zero(t);
        prop_assert!(at > t);
        prop_assert!(at - t <= Duration::hours(1));
        let local = jst(at);
        prop_assert_eq!((local.minute(), local.second(), local.nanosecond()), (0, 0, 0));
    }

    #[test]
    fn r_app_sus_2_the_right_stops_on_the_later_of_the_stop_date_and_tomorrow(stop in date(), today in date()) {
        let day = effective_on(stop, today);
        let tomorrow = today.succ_opt().unwrap_or(today);
        prop_assert!(day >= stop && day >= tomorrow);
        prop_assert!(day == stop || day == tomorrow);
        prop_assert!(day.year() >= 2000);
    }
}
