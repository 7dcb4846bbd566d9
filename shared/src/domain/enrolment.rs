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

use crate::domain::account::{Account, Department, Kind, Name, Realm};
use crate::domain::secret::random_base32;
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
    #[serde(deserialize_with = "crate::domain::time::date_serde::deserialize")]
    pub valid_from: NaiveDate,
    #[serde(deserialize_with = "crate::domain::time::date_serde::deserialize")]
    pub valid_until: NaiveDate,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::domain::time::date_serde::option"
    )]
    pub birth_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl ImportRecord {
    /// A new account as the registrar describes it (R-LC-1): no password yet, the initial
    /// cloud-mail address, and for a student the ECCS right with the enrolment (R-LC-2).
    pub fn account(&self, mail_domain: &str) -> Account {
        Account {
            right_until: (self.kind == Kind::Student).then_some(self.valid_until),
            birth_date: self.birth_date,
            phone: self.phone.clone(),
            ..Account::new(
                self.id.clone(),
                self.kind,
                self.name(),
                self.department(),
                (self.valid_from, self.valid_until),
                crate::domain::mail_address::initial_address(&self.id, mail_domain),
            )
        }
    }

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

    /// A record from one line's fields: every missing or unreadable field named, with its rule.
    fn from_fields(fields: &Fields) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let text = |name: &str, problems: &mut Vec<String>| -> String {
            match fields.get(name) {
                Some(v) => v.clone(),
                None => {
                    problems.push(format!("{name}: 必須の項目が空です / is required"));
                    String::new()
                }
            }
        };
        let date = |name: &str, required: bool, problems: &mut Vec<String>| -> Option<NaiveDate> {
            match fields.get(name) {
                None if required => {
                    problems.push(format!("{name}: 必須の項目が空です / is required"));
                    None
                }
                None => None,
                Some(v) => {
                    let d = crate::domain::time::parse_date(v).or_else(|| excel_date(v));
                    if d.is_none() {
                        problems.push(format!(
                            "{name}: {v:?} は YYYY-MM-DD 形式の日付ではありません（例 2026-04-01） / is not a date YYYY-MM-DD (e.g. 2026-04-01)"
                        ));
                    }
                    d
                }
            }
        };
        let id = excel_id(&crate::domain::typed::identifier(&text("id", &mut problems)));
        let kind_text = text("kind", &mut problems).to_ascii_lowercase();
        let kind = match kind_text.as_str() {
            "student" => Some(Kind::Student),
            "faculty" => Some(Kind::Faculty),
            "staff" => Some(Kind::Staff),
            "other" => Some(Kind::Other),
            "" => None,
            other => {
                problems.push(format!(
                    "kind: {other:?} は student, faculty, staff, other のいずれかにしてください / must be student, faculty, staff or other"
                ));
                None
            }
        };
        let record = Self {
            id,
            kind: kind.unwrap_or(Kind::Other),
            name_ja: text("name_ja", &mut problems),
            name_en: text("name_en", &mut problems),
            department_code: text("department_code", &mut problems),
            department_ja: text("department_ja", &mut problems),
            department_en: text("department_en", &mut problems),
            valid_from: date("valid_from", true, &mut problems).unwrap_or_default(),
            valid_until: date("valid_until", true, &mut problems).unwrap_or_default(),
            birth_date: date("birth_date", false, &mut problems),
            phone: fields.get("phone").cloned(),
        };
        if problems.is_empty() { Ok(record) } else { Err(problems) }
    }

    /// Every rule the record breaks, each naming its field, in both languages.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !Realm::Utokyo.is_valid_id(&self.id) {
            out.push(format!("id: {:?} は10桁の数字ではありません / is not 10 digits", self.id));
        }
        for (field, value) in [
            ("name_ja", &self.name_ja),
            ("name_en", &self.name_en),
            ("department_ja", &self.department_ja),
            ("department_en", &self.department_en),
        ] {
            if value.trim().is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
                out.push(format!(
                    "{field}: 1〜100文字の印字可能な文字にしてください / must be 1–100 printable characters"
                ));
            }
            // R-SEC-7: no invisible or direction-changing characters (Unicode Cf: zero-width
            // spaces and joiners, bidirectional controls), which make one name look like another.
            if value.chars().any(is_invisible) {
                out.push(format!(
                    "{field}: 見えない文字や書字方向の制御文字が含まれています / contains an invisible or bidirectional control character"
                ));
            }
            // A file read in the wrong encoding: never store what could not be read.
            if value.contains('\u{fffd}') {
                out.push(format!(
                    "{field}: 読めない文字（U+FFFD）が含まれています。ファイルの文字コードを確認してください / contains U+FFFD, a character that could not be read: check the file's encoding"
                ));
            }
        }
        let code_ok = (1..=10).contains(&self.department_code.len())
            && self.department_code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !code_ok {
            out.push("department_code: 英大文字と数字で1〜10文字にしてください / must be 1–10 of A–Z 0–9".into());
        }
        if self.valid_from > self.valid_until {
            out.push("valid_until: valid_from より前の日付です / is before valid_from".into());
        }
        if self
            .phone
            .as_ref()
            .is_some_and(|p| p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || "+-() ".contains(c)))
        {
            out.push("phone: 数字と + - ( ) と空白で20文字以内にしてください / must be digits, + - ( ) or spaces, at most 20".into());
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

/// R-SEC-7: a character that shows as nothing or moves the text: Unicode Cf (zero-width spaces
/// and joiners, bidirectional controls, tags), line and paragraph separators, and the blank
/// fillers (Hangul fillers, the blank Braille pattern, the combining grapheme joiner).
fn is_invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    ) || matches!(c, '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' | '\u{2800}' | '\u{034f}')
}

/// A date as Japanese Excel writes it in a CSV (`2027/4/1`, `2027/04/01`): the registrar's file
/// is read as saved, since the field's meaning is not in doubt. The API's own dates stay
/// exactly `YYYY-MM-DD`.
fn excel_date(v: &str) -> Option<NaiveDate> {
    let mut parts = v.split('/');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits =
        |s: &str, n: std::ops::RangeInclusive<usize>| n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(y, 4..=4) || !digits(m, 1..=2) || !digits(d, 1..=2) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// An id as Excel writes it: a column of numbers loses its leading zeros (`0000000001` → `1`).
/// Digits only and shorter than 10: padded back; anything else is left for the rule to judge.
fn excel_id(id: &str) -> String {
    if !id.is_empty() && id.len() < 10 && id.bytes().all(|b| b.is_ascii_digit()) {
        format!("{id:0>10}")
    } else {
        id.to_owned()
    }
}

/// The columns of an import, with whether each is required: the import page lists them and
/// offers them as a template.
pub const COLUMNS: [(&str, bool); 11] = [
    ("id", true),
    ("kind", true),
    ("name_ja", true),
    ("name_en", true),
    ("department_code", true),
    ("department_ja", true),
    ("department_en", true),
    ("valid_from", true),
    ("valid_until", true),
    ("birth_date", false),
    ("phone", false),
];

/// What an import file holds: its records, and the columns it had that the import does not use
/// (a registrar's extra column is ignored and said, never a reason to refuse the file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportFile {
    pub records: Vec<ImportRecord>,
    pub ignored_columns: Vec<String>,
}

/// One line's fields by column name (values trimmed; empty means absent).
type Fields = std::collections::BTreeMap<String, String>;

/// R-LC-1: parses and checks a whole file; any bad line refuses it all, each named with its line
/// number (1-based, the CSV header being line 1), the field and the rule, in both languages.
pub fn parse_import(format: ImportFormat, data: &str) -> Result<ImportFile, ApiError> {
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
    let mut lines: Vec<(usize, Fields)> = Vec::new();
    let mut bad: Vec<(usize, String)> = Vec::new();
    let mut ignored = std::collections::BTreeSet::new();
    let known = |name: &str| COLUMNS.iter().any(|(c, _)| *c == name);
    match format {
        ImportFormat::Jsonl => {
            for (i, line) in data.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match crate::edge::json::from_slice_unique(line.as_bytes()) {
                    Ok(serde_json::Value::Object(map)) => {
                        let mut fields = Fields::new();
                        for (k, v) in map {
                            if !known(&k) {
                                ignored.insert(k);
                                continue;
                            }
                            match v {
                                serde_json::Value::String(s) => {
                                    fields.insert(k, s.trim().to_owned());
                                }
                                serde_json::Value::Null => {}
                                other => bad.push((
                                    i + 1,
                                    format!("{k}: 文字列で指定してください / must be a string, not {other}"),
                                )),
                            }
                        }
                        lines.push((i + 1, fields));
                    }
                    Err(e) if e.to_string().contains("duplicate field") => {
                        bad.push((i + 1, "同じ項目が2回あります / a field appears twice on the line".into()))
                    }
                    _ => {
                        bad.push((i + 1, "JSON の1行1件の形式ではありません / not one JSON object on the line".into()))
                    }
                }
            }
        }
        ImportFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(data.as_bytes());
            let headers: Vec<String> = match reader.headers() {
                Ok(h) => h.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
                Err(_) => vec![],
            };
            for h in headers.iter().filter(|h| !known(h) && !h.is_empty()) {
                ignored.insert(h.clone());
            }
            let mut seen_columns = std::collections::HashSet::new();
            for h in headers.iter().filter(|h| known(h)) {
                if !seen_columns.insert(h.clone()) {
                    bad.push((1, format!("{h}: 見出し行にこの列が2回あります / the header has this column twice")));
                }
            }
            for (name, required) in COLUMNS {
                if required && !headers.iter().any(|h| h == name) {
                    bad.push((1, format!("{name}: 見出し行にこの列がありません / the header has no such column")));
                }
            }
            if bad.is_empty() {
                for (i, row) in reader.records().enumerate() {
                    let line = i + 2;
                    match row {
                        Ok(row) => {
                            let fields = headers
                                .iter()
                                .zip(row.iter())
                                .filter(|(h, v)| known(h) && !v.is_empty())
                                .map(|(h, v)| (h.clone(), v.to_owned()))
                                .collect();
                            lines.push((line, fields));
                        }
                        Err(_) => bad.push((
                            line,
                            "CSV として読めません（引用符の対応を確認してください） / not readable as CSV (check the quotes)".into(),
                        )),
                    }
                }
            }
        }
    }
    let mut records = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (line, fields) in lines {
        match ImportRecord::from_fields(&fields) {
            Ok(r) => {
                for p in r.problems() {
                    bad.push((line, p));
                }
                if !seen.insert(r.id.clone()) {
                    bad.push((line, format!("id: {} が2回あります / appears twice in the file", r.id)));
                }
                records.push(r);
            }
            Err(problems) => bad.extend(problems.into_iter().map(|p| (line, p))),
        }
    }
    if records.is_empty() && bad.is_empty() {
        bad.push((1, "アカウントが1件もありません / no accounts in the file".into()));
    }
    if bad.is_empty() {
        Ok(ImportFile { records, ignored_columns: ignored.into_iter().collect() })
    } else {
        bad.sort();
        bad.truncate(100);
        Err(ApiError::ImportInvalid { lines: bad })
    }
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

/// R-LC-3: the expiry of a key issued now.
/// R-LC-3, R-SEC-3: a key issued `now` for an account that starts on `valid_from` works for
/// [`KEY_VALID_DAYS`] from whichever is later — a key for next April's student does not run out
/// before the account can be used.
pub fn key_expiry(now: DateTime<Utc>, valid_from: NaiveDate) -> DateTime<Utc> {
    now.max(crate::domain::time::start_of_day(valid_from)) + Duration::days(KEY_VALID_DAYS)
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
    use crate::domain::secret::{key_hash, key_matches};

    const GOOD: &str = r#"{"id":"2000000001","kind":"student","name_ja":"新入 一郎","name_en":"Ichiro Shinnyu","department_code":"D03","department_ja":"理学部","department_en":"Faculty of Science","valid_from":"2027-04-01","valid_until":"2031-03-31"}"#;

    #[test]
    fn r_lc_1_jsonl_and_csv_read_the_same_records() {
        let jsonl = parse_import(ImportFormat::Jsonl, &format!("{GOOD}\n\n")).unwrap().records;
        let csv = parse_import(
            ImportFormat::Csv,
            "id,kind,name_ja,name_en,department_code,department_ja,department_en,valid_from,valid_until\n\
             2000000001,student,新入 一郎,Ichiro Shinnyu,D03,理学部,Faculty of Science,2027-04-01,2031-03-31\n",
        )
        .unwrap()
        .records;
        assert_eq!(jsonl, csv);
        assert_eq!(jsonl[0].kind, Kind::Student);
    }

    #[test]
    fn r_lc_1_a_bad_line_refuses_the_whole_file_naming_every_bad_line() {
        let bad_dates = GOOD.replace("2031-03-31", "2020-03-31");
        let bad_id = GOOD.replace("2000000001", "20000-1");
        let file = format!("{GOOD}\n{bad_dates}\n{{\"nope\": 1}}\n{bad_id}\n");
        match parse_import(ImportFormat::Jsonl, &file) {
            Err(ApiError::ImportInvalid { lines }) => {
                let mut numbers: Vec<usize> = lines.iter().map(|(l, _)| *l).collect();
                numbers.dedup();
                assert_eq!(numbers, vec![2, 3, 4], "{lines:?}");
                assert!(lines.iter().any(|(l, r)| *l == 3 && r.starts_with("id: ") && r.contains(" / ")), "{lines:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_import(ImportFormat::Jsonl, ""), Err(ApiError::ImportInvalid { .. })));
    }

    const HEADER: &str = "id,kind,name_ja,name_en,department_code,department_ja,department_en,valid_from,valid_until";

    fn reasons(format: ImportFormat, data: &str) -> Vec<(usize, String)> {
        match parse_import(format, data) {
            Err(ApiError::ImportInvalid { lines }) => lines,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn r_lc_1_a_registrars_extra_column_is_ignored_and_said() {
        let file = parse_import(
            ImportFormat::Csv,
            &format!(
                "\u{feff}{HEADER},学籍番号メモ,Email\n2000000001,Student,新入 一郎,Ichiro Shinnyu,D03,理学部,Faculty of Science,2027-04-01,2031-03-31,x,y\n"
            ),
        )
        .unwrap();
        assert_eq!(file.ignored_columns, vec!["email".to_owned(), "学籍番号メモ".to_owned()]);
        assert_eq!(file.records[0].kind, Kind::Student, "kinds in any case");
        assert_eq!(file.records[0].id, "2000000001", "the BOM is not part of the first column");
    }

    #[test]
    fn r_lc_1_errors_name_the_line_the_field_and_the_rule_in_both_languages() {
        let lines = reasons(
            ImportFormat::Csv,
            &format!(
                "{HEADER}\n2000000001,Teacher,新入 一郎,Ichiro Shinnyu,D03,理学部,Faculty of Science,2026-4月-01,2031-03-31\n"
            ),
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|(l, r)| *l == 2 && r.contains(" / ")), "{lines:?}");
        assert!(lines.iter().any(|(_, r)| r.starts_with("kind: ")), "{lines:?}");
        assert!(lines.iter().any(|(_, r)| r.starts_with("valid_from: ") && r.contains("YYYY-MM-DD")), "{lines:?}");
        let missing = reasons(ImportFormat::Csv, "id,kind\n2000000001,student\n");
        assert!(missing.iter().any(|(l, r)| *l == 1 && r.starts_with("valid_until: ")), "{missing:?}");
    }

    #[test]
    fn r_sec_7_invisible_and_blank_characters_in_names_are_refused() {
        for c in ['\u{200b}', '\u{202e}', '\u{2028}', '\u{3164}', '\u{2800}', '\u{034f}', '\u{85}'] {
            let line = GOOD.replace("新入 一郎", &format!("新入{c}一郎"));
            assert!(!reasons(ImportFormat::Jsonl, &line).is_empty(), "{:?}", c);
        }
    }

    #[test]
    fn r_lc_1_a_field_or_column_twice_is_refused_not_read_as_the_last() {
        let twice = GOOD.replace(r#""kind":"student""#, r#""kind":"student","kind":"staff""#);
        assert!(reasons(ImportFormat::Jsonl, &twice).iter().any(|(_, r)| r.contains("twice")));
        let csv = format!(
            "{HEADER},id\n2000000001,student,新入 一郎,Ichiro Shinnyu,D03,理学部,Faculty of Science,2027-04-01,2031-03-31,2000000002\n"
        );
        assert!(reasons(ImportFormat::Csv, &csv).iter().any(|(l, r)| *l == 1 && r.starts_with("id: ")));
    }

    #[test]
    fn r_lc_1_a_file_as_japanese_excel_saves_it_is_read_as_meant() {
        let file = parse_import(
            ImportFormat::Csv,
            &format!(
                "{HEADER}\n12345,student,新入 一郎,Ichiro Shinnyu,D03,理学部,Faculty of Science,2027/4/1,2031/03/31\n"
            ),
        )
        .unwrap();
        let r = &file.records[0];
        assert_eq!(r.id, "0000012345");
        assert_eq!((r.valid_from.to_string(), r.valid_until.to_string()), ("2027-04-01".into(), "2031-03-31".into()));
        for bad in ["2027/13/1", "27/4/1", "2027/4/1/2", "2027/４/1"] {
            assert_eq!(excel_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_file_read_in_the_wrong_encoding_is_refused_not_stored() {
        let garbled = GOOD.replace("新入 一郎", "\u{fffd}V\u{fffd}\u{fffd} \u{fffd}\u{fffd}");
        let lines = reasons(ImportFormat::Jsonl, &garbled);
        assert!(lines.iter().any(|(_, r)| r.starts_with("name_ja: ") && r.contains("U+FFFD")), "{lines:?}");
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
