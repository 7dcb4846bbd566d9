//! Time: the [`Clock`] every function reads, and the calendar rules of SPEC §1 — "today" and every
//! date are in Asia/Tokyo; changes take effect at the next minute 0 (R-CMA-2, R-CMP-1); a suspension
//! takes effect on `max(stop_date, tomorrow)` (R-APP-SUS-2).
//!
//! Instants are stored in DynamoDB as fixed-width UTC strings with milliseconds
//! (`2026-11-22T01:00:00.000Z`), so that string comparison in a condition is time comparison.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, SecondsFormat, TimeZone, Timelike, Utc};

/// The time source. In Lambda it is the system clock; the local runner builds a settable one so
/// that `POST /_local/clock` moves every function, token lifetime and schedule together.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a settable clock whose value is milliseconds since the
    /// epoch, or [`REAL`] while it follows the system clock.
    fixed: Option<Arc<AtomicI64>>,
}

const REAL: i64 = i64::MIN;

impl Clock {
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock that follows the system time until [`Clock::set`] fixes it.
    pub fn settable() -> Self {
        Self { fixed: Some(Arc::new(AtomicI64::new(REAL))) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            Some(cell) => match cell.load(Ordering::SeqCst) {
                REAL => Utc::now(),
                ms => DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now),
            },
            None => Utc::now(),
        }
    }

    /// Fixes the clock at `now`, or returns it to the system time with `None`.
    /// Returns false on a system clock, which cannot be set.
    pub fn set(&self, now: Option<DateTime<Utc>>) -> bool {
        match &self.fixed {
            Some(cell) => {
                cell.store(now.map_or(REAL, |t| t.timestamp_millis()), Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Whether the clock has been fixed by [`Clock::set`].
    pub fn is_fixed(&self) -> bool {
        self.fixed.as_ref().is_some_and(|cell| cell.load(Ordering::SeqCst) != REAL)
    }
}

/// Japan Standard Time, UTC+09:00: Asia/Tokyo has kept this offset, with no daylight saving,
/// since 1951 (the tz database's rules for Japan end that year). A fixed offset instead of a
/// time-zone database: chrono-tz's tables of every zone were about 2 MB of every function that
/// reads "today" (its spans are pointers the loader relocates), for the one zone the rules use.
/// The unit test below checks it against chrono-tz's Asia/Tokyo, hour by hour from 1952 to 2100.
pub const JST: FixedOffset = match FixedOffset::east_opt(9 * 3600) {
    Some(offset) => offset,
    None => unreachable!(),
};

/// A schedule's time zone as EventBridge Scheduler names it, for the zones this service's
/// schedules use (Asia/Tokyo, and UTC when none is named); `None` for any other.
pub fn zone_named(name: Option<&str>) -> Option<FixedOffset> {
    match name {
        Some("Asia/Tokyo" | "Japan") => Some(JST),
        None | Some("UTC" | "Etc/UTC" | "Etc/GMT" | "GMT") => Some(FixedOffset::east_opt(0)?),
        Some(_) => None,
    }
}

/// The instant seen in Tokyo.
pub fn jst(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&JST)
}

/// "Today" in Asia/Tokyo.
pub fn today(t: DateTime<Utc>) -> NaiveDate {
    jst(t).date_naive()
}

/// 00:00 of `date` in Tokyo, as an instant.
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    JST.from_local_datetime(&midnight).earliest().map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// The next minute 0 (JST) strictly after `t`: when the hourly sync applies a change accepted at
/// `t` (R-CMA-2, R-CMP-1). A change at 10:59:59 applies at 11:00; one at 11:00:00 at 12:00.
pub fn next_minute_zero(t: DateTime<Utc>) -> DateTime<Utc> {
    let local = jst(t);
    let hour_start =
        local.with_minute(0).and_then(|x| x.with_second(0)).and_then(|x| x.with_nanosecond(0)).unwrap_or(local);
    (hour_start + Duration::hours(1)).with_timezone(&Utc)
}

/// R-APP-SUS-2: a suspension takes effect on `max(stop_date, tomorrow)`.
pub fn effective_on(stop_date: NaiveDate, today: NaiveDate) -> NaiveDate {
    stop_date.max(today.succ_opt().unwrap_or(today))
}

/// The API's rendering of an instant: RFC 3339 with the Tokyo offset.
/// Seconds since the Unix epoch, for the TOTP step (0 before it).
pub fn unix_seconds(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp()).unwrap_or(0)
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    jst(t).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The stored rendering of an instant: fixed-width UTC with milliseconds.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// An EventBridge cron expression (`cron(0 * * * ? *)`: minute hour day month weekday year), read
/// in `zone`, as a schedule (the `cron` crate takes a seconds field first).
pub fn cron_schedule(expression: &str) -> Result<cron::Schedule, String> {
    let inner = expression
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("only cron() schedules are supported: {expression}"))?;
    format!("0 {inner}").parse().map_err(|e| format!("{expression}: {e}"))
}

/// The first fire time of `schedule` in `zone` strictly after `t`.
pub fn next_fire<Z: TimeZone>(schedule: &cron::Schedule, zone: &Z, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule.after(&t.with_timezone(zone)).next().map(|n| n.with_timezone(&Utc))
}

/// A date as the API takes it: exactly `YYYY-MM-DD` (SPEC §1) — no sign, no spaces, no other
/// form that a lenient parser would read.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
    if shape { NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok() } else { None }
}

/// `#[serde(deserialize_with = "…")]` for input dates: [`parse_date`], with the reason.
pub mod date_serde {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, de::Error};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse_date(&raw).ok_or_else(|| D::Error::custom(format!("{raw:?} is not a date of the form YYYY-MM-DD")))
    }

    /// The same for an optional date (absent or null: `None`; pair with `#[serde(default)]`).
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(raw) => super::parse_date(&raw)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("{raw:?} is not a date of the form YYYY-MM-DD"))),
            None => Ok(None),
        }
    }
}

/// Serde adapter for instants stored with [`stamp`].
pub mod stamp_serde {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::stamp(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse_stamp(&raw).ok_or_else(|| D::Error::custom(format!("bad instant {raw:?}")))
    }

    /// The same for an optional instant (absent when `None`; pair with `skip_serializing_if`).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::stamp(*t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(raw) => super::super::parse_stamp(&raw)
                    .map(Some)
                    .ok_or_else(|| D::Error::custom(format!("bad instant {raw:?}"))),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jst_is_asia_tokyo_in_the_tz_database_for_every_hour_from_1952_to_2100() {
        let mut t = at("1952-01-01T00:00:00.000Z");
        let end = at("2101-01-01T00:00:00.000Z");
        let mut hours = 0;
        while t < end {
            let zoned = t.with_timezone(&chrono_tz::Asia::Tokyo);
            assert_eq!(jst(t).naive_local(), zoned.naive_local(), "{t}");
            t += Duration::hours(1);
            hours += 1;
        }
        assert!(hours > 1_300_000);
        // The local midnight of a date is one instant (no gap, no fold).
        let date = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
        assert_eq!(stamp(start_of_day(date)), "2026-12-02T15:00:00.000Z");
    }

    #[test]
    fn schedule_zones_are_tokyo_or_utc_and_nothing_else_is_guessed() {
        assert_eq!(zone_named(Some("Asia/Tokyo")), Some(JST));
        assert_eq!(zone_named(None).map(|z| z.local_minus_utc()), Some(0));
        assert_eq!(zone_named(Some("UTC")).map(|z| z.local_minus_utc()), Some(0));
        assert_eq!(zone_named(Some("Europe/Paris")), None);
    }

    #[test]
    fn input_dates_are_exactly_yyyy_mm_dd() {
        assert_eq!(parse_date("2026-12-03"), NaiveDate::from_ymd_opt(2026, 12, 3));
        for bad in ["+2026-12-03", "2026-12-03 ", " 2026-12-03", "2026/12/03", "2026-12-3", "2026-02-30", "20261203"] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_stamp(s).unwrap_or_default()
    }

    #[test]
    fn r_cma_2_change_at_10_59_59_applies_at_11_00() {
        let t = at("2026-11-22T10:59:59+09:00");
        assert_eq!(rfc3339(next_minute_zero(t)), "2026-11-22T11:00:00+09:00");
    }

    #[test]
    fn r_cma_2_change_at_11_00_00_applies_at_12_00() {
        let t = at("2026-11-22T11:00:00+09:00");
        assert_eq!(rfc3339(next_minute_zero(t)), "2026-11-22T12:00:00+09:00");
    }

    #[test]
    fn r_cmp_1_next_minute_zero_crosses_midnight_in_tokyo() {
        let t = at("2026-12-31T23:30:00+09:00");
        assert_eq!(rfc3339(next_minute_zero(t)), "2027-01-01T00:00:00+09:00");
    }

    #[test]
    fn today_is_the_tokyo_date_not_the_utc_date() {
        // 2026-11-22 15:30 UTC is already the 23rd in Tokyo.
        let t = at("2026-11-22T15:30:00Z");
        assert_eq!(today(t), NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default());
        assert_eq!(start_of_day(today(t)), at("2026-11-22T15:00:00Z"));
    }

    #[test]
    fn r_app_sus_2_stop_date_today_takes_effect_tomorrow() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
        let tomorrow = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        let later = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
        assert_eq!(effective_on(today, today), tomorrow);
        assert_eq!(effective_on(tomorrow, today), tomorrow);
        assert_eq!(effective_on(later, today), later);
    }

    #[test]
    fn eventbridge_cron_is_read_in_tokyo_time() {
        let t = at("2026-11-22T10:20:00+09:00");
        let hourly = cron_schedule("cron(0 * * * ? *)").unwrap();
        let daily = cron_schedule("cron(5 0 * * ? *)").unwrap();
        assert_eq!(rfc3339(next_fire(&hourly, &JST, t).unwrap()), "2026-11-22T11:00:00+09:00");
        assert_eq!(rfc3339(next_fire(&daily, &JST, t).unwrap()), "2026-11-23T00:05:00+09:00");
        assert!(cron_schedule("rate(1 hour)").is_err());
    }

    #[test]
    fn stamps_are_fixed_width_so_they_sort_as_time() {
        let a = stamp(at("2026-11-22T01:00:00Z"));
        let b = stamp(at("2026-11-22T01:00:00.5Z"));
        assert_eq!(a.len(), b.len());
        assert!(a < b);
    }

    #[test]
    fn a_settable_clock_is_fixed_and_released() {
        let clock = Clock::settable();
        let t = at("2030-01-01T00:00:00Z");
        assert!(clock.set(Some(t)));
        assert_eq!(clock.now(), t);
        assert!(clock.is_fixed());
        assert!(clock.set(None));
        assert!(clock.now() > t - Duration::days(365 * 10));
        assert!(!Clock::system().set(Some(t)));
    }
}
