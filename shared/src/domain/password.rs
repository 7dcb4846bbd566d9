//! Passwords: the policy for cloud-mail and workshop passwords (R-PWD), the argon2id hashes of
//! account passwords (R-ACC-1), and the SHA-512 crypt hash the mail system accepts (R-CMP-3).
//!
//! The policy reports every broken rule at once (R-PWD-3) as stable codes:
//! `too_short`, `too_long`, `missing_uppercase`, `missing_lowercase`, `missing_digit`,
//! `invalid_character`, `contains_account_id`, `contains_name`, `contains_birth_date`,
//! `contains_phone`, `dictionary_word`, and (checked by the caller, R-CMP-2)
//! `same_as_account_password`.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::NaiveDate;
use zxcvbn::matching::patterns::MatchPattern;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 64;

/// What the policy knows about the person (R-PWD-2).
#[derive(Debug, Clone, Default)]
pub struct PersonalData<'a> {
    pub account_id: &'a str,
    /// Every form of the name on record (romanised names are split into their parts).
    pub names: Vec<&'a str>,
    pub birth_date: Option<NaiveDate>,
    pub phone: Option<&'a str>,
}

impl<'a> PersonalData<'a> {
    /// What an account's record says about the person.
    pub fn of(account: &'a crate::domain::account::Account) -> Self {
        Self {
            account_id: &account.id,
            names: vec![account.name.en.as_str(), account.name.ja.as_str()],
            birth_date: account.birth_date,
            phone: account.phone.as_deref(),
        }
    }
}

/// R-PWD-1..3: every rule `password` breaks, in a fixed order; empty when it is acceptable.
pub fn violations(password: &str, person: &PersonalData<'_>) -> Vec<&'static str> {
    let mut out = Vec::new();
    let len = password.chars().count();
    if len < MIN_LEN {
        out.push("too_short");
    }
    if len > MAX_LEN {
        out.push("too_long");
    }
    if !password.chars().any(|c| c.is_ascii_uppercase()) {
        out.push("missing_uppercase");
    }
    if !password.chars().any(|c| c.is_ascii_lowercase()) {
        out.push("missing_lowercase");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        out.push("missing_digit");
    }
    if !password.chars().all(is_allowed_char) {
        out.push("invalid_character");
    }
    // The personal and dictionary checks look at a bounded, ASCII password only: anything else
    // has already failed above, and zxcvbn's cost grows with the length.
    if len > MAX_LEN * 2 || !password.is_ascii() {
        return out;
    }
    let lower = password.to_ascii_lowercase();
    let compact = strip_separators(&lower);
    if !person.account_id.is_empty() && compact.contains(&person.account_id.to_ascii_lowercase()) {
        out.push("contains_account_id");
    }
    if person
        .names
        .iter()
        .flat_map(|n| n.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|part| part.len() >= 3)
        .any(|part| lower.contains(&part.to_ascii_lowercase()))
    {
        out.push("contains_name");
    }
    if person.birth_date.is_some_and(|d| birth_date_forms(d).iter().any(|f| compact.contains(f.as_str()))) {
        out.push("contains_birth_date");
    }
    if person.phone.is_some_and(|p| phone_forms(p).iter().any(|f| compact.contains(f.as_str()))) {
        out.push("contains_phone");
    }
    if is_dictionary_word(password) {
        out.push("dictionary_word");
    }
    out
}

/// Printable ASCII without space and `"'\` (R-PWD-1).
fn is_allowed_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\')
}

fn strip_separators(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '-' | '/' | '.' | '_' | ' ' | '(' | ')' | '+')).collect()
}

/// The common ways a birth date is written, separators removed: 19900401, 900401, 04011990,
/// 01041990, 0401, and the Japanese era year with month and day (平成2年 → H020401, 020401).
fn birth_date_forms(d: NaiveDate) -> Vec<String> {
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    let mut forms = vec![
        format!("{y:04}{m:02}{day:02}"),
        format!("{:02}{m:02}{day:02}", y.rem_euclid(100)),
        format!("{m:02}{day:02}{y:04}"),
        format!("{day:02}{m:02}{y:04}"),
        format!("{m:02}{day:02}"),
    ];
    if let Some((letter, era_year)) = japanese_era(d) {
        forms.push(format!("{letter}{era_year:02}{m:02}{day:02}"));
        forms.push(format!("{era_year:02}{m:02}{day:02}"));
    }
    forms
}

/// Reiwa, Heisei, Showa: the eras in which current students and staff were born.
fn japanese_era(d: NaiveDate) -> Option<(char, i32)> {
    use chrono::Datelike;
    let eras = [("2019-05-01", 'r', 2018), ("1989-01-08", 'h', 1988), ("1926-12-25", 's', 1925)];
    eras.iter().find_map(|(start, letter, base)| {
        let start: NaiveDate = start.parse().ok()?;
        (d >= start).then_some((*letter, d.year() - base))
    })
}

/// A phone number as digits: the national form (09012345678), the subscriber part without the
/// area or mobile prefix (12345678), and the international form without the leading 0
/// (819012345678).
fn phone_forms(phone: &str) -> Vec<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.strip_prefix("81") {
        Some(rest) if phone.trim_start().starts_with('+') => format!("0{rest}"),
        _ => digits,
    };
    if national.len() < 6 {
        return vec![];
    }
    let mut forms = vec![national.clone()];
    let tail_len = national.len().saturating_sub(3).min(8);
    if tail_len >= 6 {
        forms.push(national.chars().skip(national.len() - tail_len).collect());
    }
    if let Some(rest) = national.strip_prefix('0') {
        forms.push(format!("81{rest}"));
    }
    forms
}

/// R-PWD-2: the password is a word of zxcvbn's lists (common passwords, English words, names,
/// film and TV words), possibly capitalised, l33t-spelled or reversed, alone or with only digits
/// and symbols around it: `Password1`, `P@ssw0rd99`, `Sunflower2024`, `1Computer!`.
fn is_dictionary_word(password: &str) -> bool {
    let core = password.trim_matches(|c: char| !c.is_ascii_alphabetic());
    [password, core].iter().any(|s| s.len() >= 4 && is_one_word(s))
}

/// zxcvbn reads all of `s` as a single dictionary word.
fn is_one_word(s: &str) -> bool {
    let entropy = zxcvbn::zxcvbn(s, &[]);
    match entropy.sequence() {
        [m] => matches!(m.pattern, MatchPattern::Dictionary(_)) && m.i == 0 && m.j + 1 == s.chars().count(),
        _ => false,
    }
}

/// The argon2id parameters for account passwords: OWASP's 19 MiB, 2 passes, 1 lane — argon2's
/// own constant, so that no fallible construction can fall back to other costs (the unit test
/// pins them to the stand-in hash's). The functions that hash or verify get 512 MB in the
/// template; see the README for the cost.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// An argon2id PHC string for a new account password.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| format!("argon2: {e}"))
}

/// A real argon2id hash with the parameters of [`argon2`] (of a password no account has), to
/// verify against when there is nothing to verify: no account, an account not yet activated, or
/// a malformed hash. It is a constant so that the stand-in work can never silently be skipped.
const STAND_IN: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$WJi4RqqnpcmxqT/2TtY9sQ$IP8ZvkulwyYXxaktiaJswuz3JX5/Ofb5wjBT5C/1U+M";

/// Verifies against a stored PHC string. An empty or malformed hash verifies nothing, after the
/// same work as a real one, so that the answer time does not tell whether an account exists or
/// is still waiting for activation (R-LOGIN-2, R-SEC-6).
pub fn verify(password: &str, phc: &str) -> bool {
    let (target, real) = verification_target(phc);
    let matches = target.is_some_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok());
    matches && real
}

/// The hash a password is checked against: the stored one, or — when there is none or it is
/// malformed — the stand-in, so the same work is done (R-SEC-6); `false` when it is the stand-in.
fn verification_target(phc: &str) -> (Option<PasswordHash<'_>>, bool) {
    match PasswordHash::new(phc) {
        Ok(parsed) => (Some(parsed), true),
        Err(_) => (PasswordHash::new(STAND_IN).ok(), false),
    }
}

/// R-CMP-3: the SHA-512 crypt hash (`$6$`, 5000 rounds) that the mail system accepts.
pub fn mail_crypt(password: &str) -> Result<String, String> {
    let params = sha_crypt::Sha512Params::new(5_000).map_err(|e| format!("sha-crypt params: {e:?}"))?;
    sha_crypt::sha512_simple(password, &params).map_err(|e| format!("sha-crypt: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_login_2_the_costs_are_owasps_and_the_stand_ins() {
        let params = Params::DEFAULT;
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19 * 1024, 2, 1));
        assert!(STAND_IN.contains("m=19456,t=2,p=1"));
        assert!(hash("correct horse").unwrap().contains("m=19456,t=2,p=1"));
    }

    fn person() -> PersonalData<'static> {
        PersonalData {
            account_id: "0000000001",
            names: vec!["Taro Todai", "東大 太郎"],
            birth_date: "2004-04-02".parse().ok(),
            phone: Some("090-1234-5678"),
        }
    }

    #[test]
    fn r_pwd_1_a_good_password_passes() {
        assert!(violations("Kx7#mQ2v-Rt9", &person()).is_empty());
    }

    #[test]
    fn r_pwd_3_every_broken_rule_is_listed_at_once() {
        assert_eq!(
            violations("ab\"", &person()),
            vec!["too_short", "missing_uppercase", "missing_digit", "invalid_character"]
        );
        assert_eq!(violations(&"Aa1".repeat(22), &person()), vec!["too_long"]);
    }

    #[test]
    fn r_pwd_1_space_quotes_backslash_and_non_ascii_are_refused() {
        for bad in ["Kx7#mQ2v Rt9", "Kx7#mQ2v'Rt9", "Kx7#mQ2v\\Rt9", "Kx7#mQ2vＲt9"] {
            assert!(violations(bad, &person()).contains(&"invalid_character"), "{bad}");
        }
    }

    #[test]
    fn r_pwd_2_account_id_name_birth_date_and_phone_in_common_forms() {
        let p = person();
        assert!(violations("Xy0000000001z", &p).contains(&"contains_account_id"));
        assert!(violations("Xq9-TODAIzz", &p).contains(&"contains_name"));
        assert!(violations("Kx#mQv20040402", &p).contains(&"contains_birth_date"));
        assert!(violations("Kx#mQv2004-04-02", &p).contains(&"contains_birth_date"));
        assert!(violations("Kx#mQvH160402", &p).contains(&"contains_birth_date"));
        assert!(violations("Kx#mQv0402", &p).contains(&"contains_birth_date"));
        assert!(violations("Kx#mQv090-1234-5678", &p).contains(&"contains_phone"));
        assert!(violations("Kx#mQv12345678", &p).contains(&"contains_phone"));
        assert!(violations("Kx#mQv819012345678", &p).contains(&"contains_phone"));
    }

    #[test]
    fn r_pwd_2_dictionary_words_and_common_passwords_are_refused() {
        for bad in ["Password1", "P@ssw0rd99", "Sunflower2024", "Dragon123!", "1Computer!", "Drowssap1"] {
            assert!(violations(bad, &PersonalData::default()).contains(&"dictionary_word"), "{bad}");
        }
        for good in ["Kx7#mQ2v-Rt9", "Correct-Horse-Battery-9", "tR4!vq8Lm"] {
            assert!(!violations(good, &PersonalData::default()).contains(&"dictionary_word"), "{good}");
        }
    }

    #[test]
    fn argon2id_round_trip_and_malformed_hash() {
        let phc = hash("Demo-Student-1").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("Demo-Student-1", &phc));
        assert!(!verify("demo-student-1", &phc));
        assert!(!verify("Demo-Student-1", "not a hash"));
    }

    #[test]
    fn r_sec_6_no_hash_means_the_same_work_against_the_stand_in_and_never_a_match() {
        for missing in ["", "not a hash", "$argon2id$"] {
            let (target, real) = verification_target(missing);
            assert_eq!(
                target.map(|t| t.to_string()),
                Some(STAND_IN.to_owned()),
                "{missing:?} is checked against the stand-in"
            );
            assert!(!real);
        }
        assert!(!verify("no account has this password", ""), "the stand-in's own password matches nothing");
    }

    #[test]
    fn r_sec_6_the_stand_in_is_a_real_hash_with_the_account_parameters() {
        let parsed = PasswordHash::new(STAND_IN).unwrap();
        let ours = PasswordHash::new(&hash("x").unwrap())
            .unwrap()
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>();
        assert_eq!(parsed.params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>(), ours);
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(verify("no account has this password", STAND_IN));
    }

    #[test]
    fn r_cmp_3_mail_hash_is_sha512_crypt_without_the_plaintext() {
        let h = mail_crypt("Kx7#mQ2v-Rt9").unwrap();
        assert!(h.starts_with("$6$"));
        assert!(!h.contains("Kx7#mQ2v-Rt9"));
        assert!(sha_crypt::sha512_check("Kx7#mQ2v-Rt9", &h).is_ok());
    }
}
