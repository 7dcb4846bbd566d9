//! The account lifecycle around the portal (seeds 001, 003, 004), as rules R-LC-…:
//!
//! - **R-LC-1 Import.** Operators import the registrar's accounts as JSONL or CSV: an upsert by
//!   id, idempotent (importing the same file again changes nothing). A returning student keeps the
//!   same id; a student who becomes staff keeps the id with the new kind and dates. A file with
//!   any invalid line is refused whole, with every bad line named.
//! - **R-LC-2 Students' right.** Students receive the ECCS usage right with their enrolment: an
//!   import grants it until valid_until. Faculty and staff apply (R-APP-USE).
//! - **R-LC-3 Activation keys.** A new account gets a one-time activation key with an expiry,
//!   shown once to the operator for the printed notice; only its hash is stored. An operator can
//!   extend it or issue a new one (the old one stops working). A person activates with account
//!   id + key + new password (R-PWD applies), which sets `initial_password_changed`. Wrong keys
//!   count toward the R-LOGIN-3 limit.
//! - **R-LC-4 Identity verification.** An account can record that identity verification is
//!   linked (seed 003). An operator-assisted password reset (a new key for an activated account)
//!   requires it, or an in-person check recorded with the operator's id.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::account::{Department, Kind, Name, Realm};
use crate::error::ApiError;

/// R-LC-3: how long a new or re-issued activation key is valid.
pub const KEY_VALID_DAYS: i64 = 30;
/// The longest an operator may extend a key by.
pub const KEY_MAX_EXTEND_DAYS: i64 = 90;

/// One account as the registrar exports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    pub id: String,
    pub kind: Kind,
    pub name_ja: String,
    pub name_en: String,
    pub department_code: String,
    pub department_ja: String,
    pub department_en: String,
    #[serde(deserialize_with = "crate::time::date_serde::deserialize")]
    pub valid_from: NaiveDate,
    #[serde(deserialize_with = "crate::time::date_serde::deserialize")]
    pub valid_until: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::time::date_serde::option")]
    pub birth_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl ImportRecord {
    pub fn name(&self) -> Name {
        Name { ja: self.name_ja.clone(), en: self.name_en.clone() }
    }

    pub fn department(&self) -> Department {
        Department {
            code: self.department_code.clone(),
            ja: self.department_ja.clone(),
            en: self.department_en.clone(),
        }
    }

    /// Every rule the record breaks.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !Realm::Utokyo.is_valid_id(&self.id) {
            out.push(format!("id {:?} is not 10 digits", self.id));
        }
        for (field, value) in [
            ("name_ja", &self.name_ja),
            ("name_en", &self.name_en),
            ("department_ja", &self.department_ja),
            ("department_en", &self.department_en),
        ] {
            if value.trim().is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
                out.push(format!("{field} must be 1–100 printable characters"));
            }
            // R-SEC-7: no invisible or direction-changing characters (Unicode Cf: zero-width
            // spaces and joiners, bidirectional controls), which make one name look like another.
            if value.chars().any(|c| c.general_category() == GeneralCategory::Format) {
                out.push(format!("{field} contains an invisible or bidirectional control character"));
            }
        }
        let code_ok = (1..=10).contains(&self.department_code.len())
            && self.department_code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !code_ok {
            out.push("department_code must be 1–10 of A–Z 0–9".into());
        }
        if self.valid_from > self.valid_until {
            out.push("valid_from is after valid_until".into());
        }
        if self
            .phone
            .as_ref()
            .is_some_and(|p| p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || "+-() ".contains(c)))
        {
            out.push("phone must be digits, + - ( ) or spaces, at most 20".into());
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    Jsonl,
    Csv,
}

/// R-LC-1: parses and checks a whole file; any bad line refuses it all, each named with its line
/// number (1-based, the CSV header being line 1).
pub fn parse_import(format: ImportFormat, data: &str) -> Result<Vec<ImportRecord>, ApiError> {
    let mut records = Vec::new();
    let mut bad: Vec<(usize, String)> = Vec::new();
    match format {
        ImportFormat::Jsonl => {
            for (i, line) in data.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<ImportRecord>(line) {
                    Ok(r) => records.push((i + 1, r)),
                    Err(e) => bad.push((i + 1, e.to_string())),
                }
            }
        }
        ImportFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(data.as_bytes());
            for (i, row) in reader.deserialize::<ImportRecord>().enumerate() {
                match row {
                    Ok(r) => records.push((i + 2, r)),
                    Err(e) => bad.push((i + 2, e.to_string())),
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (line, r) in &records {
        for p in r.problems() {
            bad.push((*line, p));
        }
        if !seen.insert(r.id.clone()) {
            bad.push((*line, format!("id {} appears twice", r.id)));
        }
    }
    if records.is_empty() && bad.is_empty() {
        bad.push((1, "no accounts in the file".into()));
    }
    if bad.is_empty() {
        Ok(records.into_iter().map(|(_, r)| r).collect())
    } else {
        bad.sort();
        bad.truncate(100);
        Err(ApiError::ImportInvalid { lines: bad })
    }
}

/// `n` random characters of Crockford's base32 (no I, L, O, U): 5 bits each.
pub fn random_base32(n: usize) -> Result<String, ApiError> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::Internal("no randomness".into()))?;
    Ok(bytes.iter().map(|b| char::from(*ALPHABET.get(usize::from(*b) % 32).unwrap_or(&b'A'))).collect())
}

/// A fresh activation key: 16 characters of Crockford's base32, in groups of four — 80 bits,
/// typed from a printed notice.
pub fn new_activation_key() -> Result<String, ApiError> {
    let chars = random_base32(16)?;
    Ok(chars.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-"))
}

/// A one-time link token for mail (invitations, forwarding confirmations): the account id, a
/// dot, 26 random characters (130 bits). Only its hash is stored.
pub fn new_link_token(account: &str) -> Result<String, ApiError> {
    Ok(format!("{account}.{}", random_base32(26)?))
}

/// The account a link token names, if it is shaped like one.
pub fn link_token_account(token: &str) -> Option<&str> {
    let (account, secret) = token.split_once('.')?;
    (Realm::Utokyo.is_valid_id(account) && secret.len() == 26 && secret.chars().all(|c| c.is_ascii_alphanumeric()))
        .then_some(account)
}

/// What a key is stored as: SHA-256 of its normalised form — upper case, separators dropped,
/// and Crockford's look-alikes read as the digits they stand for (I, L → 1; O → 0). A key has 80
/// random bits, so a fast hash is enough; a password needs argon2id, a key does not.
pub fn key_hash(key: &str) -> String {
    let normal: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, normal.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares a presented key with a stored hash in constant time.
pub fn key_matches(presented: &str, stored_hash: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(key_hash(presented).as_bytes(), stored_hash.as_bytes()).is_ok()
}

/// R-LC-3: the expiry of a key issued now.
pub fn key_expiry(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::days(KEY_VALID_DAYS)
}

/// The in-person check an operator records for a reset without linked identity verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InPersonCheck {
    /// The photo identity document the operator saw.
    pub document: IdDocument,
}

/// R-LC-4: the documents an in-person check accepts — a closed list, so the audit record holds
/// a kind of document, never free text (or a number copied from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdDocument {
    StudentIdCard,
    StaffIdCard,
    Passport,
    ResidenceCard,
    DriversLicense,
    MyNumberCard,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"2000000001","kind":"student","name_ja":"新入 一郎","name_en":"Ichiro Shinnyu","department_code":"D03","department_ja":"理学部","department_en":"Faculty of Science","valid_from":"2027-04-01","valid_until":"2031-03-31"}"#;

    #[test]
    fn r_lc_1_jsonl_and_csv_read_the_same_records() {
        let jsonl = parse_import(ImportFormat::Jsonl, &format!("{GOOD}\n\n")).unwrap();
        let csv = parse_import(
            ImportFormat::Csv,
            "id,kind,name_ja,name_en,department_code,department_ja,department_en,valid_from,valid_until\n\
             2000000001,student,新入 一郎,Ichiro Shinnyu,D03,理学部,Faculty of Science,2027-04-01,2031-03-31\n",
        )
        .unwrap();
        assert_eq!(jsonl, csv);
        assert_eq!(jsonl[0].kind, Kind::Student);
    }

    #[test]
    fn r_lc_1_a_bad_line_refuses_the_whole_file_naming_every_bad_line() {
        let bad_dates = GOOD.replace("2031-03-31", "2020-03-31");
        let bad_id = GOOD.replace("2000000001", "20000");
        let file = format!("{GOOD}\n{bad_dates}\n{{\"nope\": 1}}\n{bad_id}\n");
        match parse_import(ImportFormat::Jsonl, &file) {
            Err(ApiError::ImportInvalid { lines }) => {
                let numbers: Vec<usize> = lines.iter().map(|(l, _)| *l).collect();
                assert_eq!(numbers, vec![2, 2, 3, 4], "{lines:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_import(ImportFormat::Jsonl, ""), Err(ApiError::ImportInvalid { .. })));
    }

    #[test]
    fn r_lc_3_keys_are_random_readable_and_stored_only_as_hashes() {
        let a = new_activation_key().unwrap();
        let b = new_activation_key().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert!(a.chars().all(|c| c == '-' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)), "{a}");
        let h = key_hash(&a);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&a.replace('-', "")));
        assert!(key_matches(&a.to_lowercase(), &h), "typed in lower case");
        assert!(key_matches(&a.replace('-', " "), &h), "typed with spaces");
        assert!(!key_matches(&b, &h));
        assert_eq!(key_hash("0O1I-L"), key_hash("00111"), "look-alikes read as digits");
    }
}
