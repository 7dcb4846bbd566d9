//! Cloud mail (R-CMA, R-CMP): the address rule, the 30-day rule and the times a change takes
//! effect. Pure; the uniqueness and 30-day invariants are enforced again as DynamoDB conditions in
//! `store::mail`.

use chrono::{DateTime, Duration, Utc};

use crate::error::ApiError;

/// R-CMA-3: no change within 30 days of the previous accepted change.
pub const CHANGE_INTERVAL_DAYS: i64 = 30;

/// Names that belong to the mail system or to the university, never to a person (R-CMA-1).
const RESERVED: &[&str] = &[
    "abuse",
    "admin",
    "administrator",
    "billing",
    "daemon",
    "eccs",
    "ftp",
    "help",
    "helpdesk",
    "hostmaster",
    "info",
    "mail",
    "mailer-daemon",
    "marketing",
    "news",
    "no-reply",
    "nobody",
    "noc",
    "noreply",
    "postmaster",
    "privacy",
    "root",
    "sales",
    "security",
    "support",
    "sysadmin",
    "system",
    "usenet",
    "utokyo",
    "uucp",
    "webmaster",
    "www",
];

/// R-CMA-1: checks and normalises a requested address. Accepts the local part alone or a full
/// address in the configured domain; letters are folded to lower case. Returns the full address.
pub fn normalise_address(requested: &str, domain: &str) -> Result<String, ApiError> {
    let requested = crate::domain::typed::identifier(requested);
    let (local, given_domain) = match requested.rsplit_once('@') {
        Some((local, d)) => (local, Some(d)),
        None => (requested.as_str(), None),
    };
    let mut reasons = Vec::new();
    if given_domain.is_some_and(|d| !d.eq_ignore_ascii_case(domain)) {
        reasons.push("wrong_domain");
    }
    let local = local.to_ascii_lowercase();
    reasons.extend(local_part_violations(&local));
    if reasons.is_empty() { Ok(format!("{local}@{domain}")) } else { Err(ApiError::InvalidAddress { reasons }) }
}

/// Whether `requested` (a local part or a full address, as typed) is the account's `current`
/// address.
pub fn is_current(requested: &str, domain: &str, current: &str) -> bool {
    let typed = crate::domain::typed::identifier(requested).to_ascii_lowercase();
    typed == current || format!("{typed}@{domain}") == current
}

/// Every rule the local part breaks, as codes.
pub fn local_part_violations(local: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let len = local.chars().count();
    if len < 3 {
        out.push("too_short");
    }
    if len > 64 {
        out.push("too_long");
    }
    if !local.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
        out.push("invalid_character");
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(local.chars().next()) || !edge_ok(local.chars().last()) {
        out.push("must_start_and_end_with_letter_or_digit");
    }
    if local.contains("..") {
        out.push("consecutive_dots");
    }
    if !local.is_empty() && local.chars().all(|c| c.is_ascii_digit()) {
        out.push("all_digits");
    }
    if RESERVED.contains(&local) || impersonates(local) {
        out.push("reserved");
    }
    out
}

/// R-SEC-7: words that make an address look like the service's own, refused anywhere in a local
/// part (`helpdesk-eccs`, `support.team`, `utokyo-official`).
const IMPERSONATING: &[&str] = &["help", "support", "admin", "security", "noreply", "official", "eccs", "utokyo"];

/// R-SEC-7: the local part, with digits that read as letters (`adm1n`, `supp0rt`, `0fficial`)
/// read as those letters, contains an impersonating word; the longer words also with the
/// separators taken out (`u-tokyo`, `no.reply`, `sec-urity`). The short ones are not, or a
/// real name would be refused (`rebecca.s` → `rebeccas`).
fn impersonates(local: &str) -> bool {
    let read = |one: char| -> String {
        local
            .chars()
            .map(|c| match c {
                '0' => 'o',
                '1' => one,
                '3' => 'e',
                '4' => 'a',
                '5' => 's',
                '7' => 't',
                c => c,
            })
            .collect()
    };
    [read('i'), read('l')].iter().any(|form| {
        let joined: String = form.chars().filter(|c| !matches!(c, '.' | '_' | '-')).collect();
        IMPERSONATING.iter().any(|w| form.contains(w) || (w.len() >= 6 && joined.contains(w)))
    })
}

/// R-LC-7: checks a forwarding address: one ordinary address outside the cloud-mail domain
/// (forwarding into it would loop). Returns it with the domain in lower case.
pub fn forwarding_address(requested: &str, own_domain: &str) -> Result<String, ApiError> {
    let requested = crate::domain::typed::identifier(requested);
    let mut reasons = Vec::new();
    let Some((local, domain)) = requested.rsplit_once('@') else {
        return Err(ApiError::InvalidAddress { reasons: vec!["not_an_address"] });
    };
    let domain = domain.to_ascii_lowercase();
    // R-SEC-2: an ordinary mailbox name only: letters, digits and `. _ + -` (no `%` routing,
    // no `{}|!#` and the other characters some mail systems read as instructions).
    let local_ok = (1..=64).contains(&local.len())
        && local.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok {
        reasons.push("invalid_character");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        // A name, not an address: the last label is letters (no `a@127.0.0.1`).
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_lowercase()))
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !domain_ok {
        reasons.push("invalid_domain");
    }
    if domain == own_domain.to_ascii_lowercase() || domain.ends_with(&format!(".{}", own_domain.to_ascii_lowercase())) {
        reasons.push("own_domain");
    }
    if reasons.is_empty() { Ok(format!("{local}@{domain}")) } else { Err(ApiError::InvalidAddress { reasons }) }
}

/// R-CMA-3: when the next change is allowed after a change accepted at `last`.
pub fn next_change_allowed_at(last: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    last.map(|t| t + Duration::days(CHANGE_INTERVAL_DAYS))
}

/// R-CMA-3: the latest previous change that still allows a change at `now`.
pub fn change_threshold(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::days(CHANGE_INTERVAL_DAYS)
}

/// The address every account starts with: its id in the cloud-mail domain.
pub fn initial_address(account_id: &str, domain: &str) -> String {
    format!("{account_id}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "g.ecc.u-tokyo.ac.jp";

    fn reasons(s: &str) -> Vec<&'static str> {
        match normalise_address(s, D) {
            Err(ApiError::InvalidAddress { reasons }) => reasons,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn r_cma_1_good_addresses_are_normalised() {
        assert_eq!(normalise_address("taro.todai", D).unwrap(), "taro.todai@g.ecc.u-tokyo.ac.jp");
        assert_eq!(normalise_address("Taro_T-2@G.ECC.U-TOKYO.AC.JP", D).unwrap(), "taro_t-2@g.ecc.u-tokyo.ac.jp");
        assert!(normalise_address(&"a".repeat(64), D).is_ok());
    }

    #[test]
    fn r_cma_1_each_rule_has_its_reason() {
        assert_eq!(reasons("ab"), vec!["too_short"]);
        assert_eq!(reasons(&"a".repeat(65)), vec!["too_long"]);
        assert_eq!(reasons("taro+x"), vec!["invalid_character"]);
        assert_eq!(reasons(".taro"), vec!["must_start_and_end_with_letter_or_digit"]);
        assert_eq!(reasons("taro-"), vec!["must_start_and_end_with_letter_or_digit"]);
        assert_eq!(reasons("ta..ro"), vec!["consecutive_dots"]);
        assert_eq!(reasons("0000000002"), vec!["all_digits"]);
        assert_eq!(reasons("postmaster"), vec!["reserved"]);
        // R-SEC-7: impersonating words anywhere in the name.
        for bad in [
            "helpdesk-eccs",
            "support.team",
            "utokyo-official",
            "sys.admin2",
            "noreply.info",
            "my-security",
            "u-tokyo",
            "u.tokyo",
            "no.reply",
            "no_reply",
            "supp0rt",
            "adm1n",
            "0fficial",
            "sec-urity",
            "he1p",
        ] {
            assert_eq!(reasons(bad), vec!["reserved"], "{bad}");
        }
        for fine in ["rebecca.s", "taro.todai", "hel.lo", "ad.min.ami"] {
            assert!(normalise_address(fine, D).is_ok(), "{fine}");
        }
        assert_eq!(reasons("taro@example.com"), vec!["wrong_domain"]);
        // Cyrillic а looks like Latin a.
        assert_eq!(reasons("tаro"), vec!["invalid_character"]);
    }

    #[test]
    fn r_lc_7_forwarding_goes_to_one_ordinary_address_outside_our_domain() {
        assert_eq!(forwarding_address(" Taro.Todai+eccs@Example.AC.jp ", D).unwrap(), "Taro.Todai+eccs@example.ac.jp");
        for (bad, reason) in [
            ("no-at-sign", "not_an_address"),
            ("a b@example.jp", "invalid_character"),
            ("a%b@example.com", "invalid_character"),
            ("{a}|b@example.com", "invalid_character"),
            ("a!b#c@example.com", "invalid_character"),
            ("taro@localhost", "invalid_domain"),
            ("taro@exa_mple.jp", "invalid_domain"),
            ("a@127.0.0.1", "invalid_domain"),
            ("taro@g.ecc.u-tokyo.ac.jp", "own_domain"),
        ] {
            match forwarding_address(bad, D) {
                Err(ApiError::InvalidAddress { reasons }) => assert!(reasons.contains(&reason), "{bad}: {reasons:?}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn r_cma_3_next_change_is_thirty_days_later() {
        let t: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        assert_eq!(next_change_allowed_at(Some(t)), Some("2026-12-01T00:00:00Z".parse().unwrap()));
        assert_eq!(next_change_allowed_at(None), None);
        assert_eq!(change_threshold("2026-12-01T00:00:00Z".parse().unwrap()), t);
    }
}
