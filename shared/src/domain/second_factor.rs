//! R-CRED-3: the second factor — TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of drift) and
//! recovery codes. Pure: the secret, its `otpauth://` URI and QR code (SVG), checking a code
//! against the last step accepted (a code is accepted once), and one-time recovery codes stored
//! only as hashes. Storage and the login's challenge are in `store::second_factor`.

use qrcode::QrCode;
use qrcode::render::svg;
use serde::{Deserialize, Serialize};
use totp_rs::{Builder, Secret, Totp};

use crate::domain::secret;
use crate::error::ApiError;

/// The issuer an authenticator app shows beside the account.
pub const ISSUER: &str = "ECCS";
/// How many recovery codes enrolment gives.
pub const RECOVERY_CODES: usize = 10;
/// How long a login's second-factor challenge lives.
pub const CHALLENGE_MINUTES: i64 = 5;

/// What the account keeps of its second factor. The secret never leaves the service but in
/// the one enrolment answer that shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactor {
    /// Base32 of the 160-bit secret.
    pub secret: String,
    /// When it was confirmed with a code; absent while enrolment waits for that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled_at: Option<String>,
    /// The last time step accepted: a code of that step or an earlier one is refused (replay).
    #[serde(default)]
    pub last_step: u64,
    /// SHA-256 of each unused recovery code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<String>,
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret or the recovery codes' hashes.
        f.debug_struct("SecondFactor")
            .field("enrolled_at", &self.enrolled_at)
            .field("recovery_codes_left", &self.recovery.len())
            .finish_non_exhaustive()
    }
}

impl SecondFactor {
    /// A fresh secret, waiting for its confirmation.
    pub fn new() -> Result<Self, ApiError> {
        let mut bytes = vec![0u8; 20];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::Internal("no randomness".into()))?;
        Ok(Self {
            secret: Secret::new(bytes.into_boxed_slice()).to_base32(),
            enrolled_at: None,
            last_step: 0,
            recovery: vec![],
        })
    }

    pub fn is_enrolled(&self) -> bool {
        self.enrolled_at.is_some()
    }

    fn totp(&self, account: &str) -> Result<Totp, ApiError> {
        let secret =
            Secret::try_from_base32(&self.secret).map_err(|e| ApiError::Internal(format!("totp secret: {e}")))?;
        Builder::new()
            .with_secret(secret)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_issuer(Some(ISSUER))
            .with_account_name(account)
            .build()
            .map_err(|e| ApiError::Internal(format!("totp: {e}")))
    }

    /// The `otpauth://totp/…` URI an authenticator app reads.
    pub fn otpauth_uri(&self, account: &str) -> Result<String, ApiError> {
        self.totp(account)?.to_url().map_err(|e| ApiError::Internal(format!("otpauth: {e}")))
    }

    /// The URI as a QR code, an SVG document.
    pub fn qr_svg(&self, account: &str) -> Result<String, ApiError> {
        let code =
            QrCode::new(self.otpauth_uri(account)?.as_bytes()).map_err(|e| ApiError::Internal(format!("qr: {e}")))?;
        Ok(code.render::<svg::Color<'_>>().min_dimensions(200, 200).build())
    }

    /// The step of `code` at Unix time `now` (one step of drift either way), if it is a code of
    /// a step after the last one accepted.
    pub fn check(&self, account: &str, code: &str, now: u64) -> Option<u64> {
        // §3: full-width digits (a Japanese IME's `１２３４５６`) are the digits they show.
        let code: String = super::typed::identifier(code).chars().filter(|c| !c.is_whitespace()).collect();
        self.totp(account).ok()?.check(&code, now).filter(|step| *step > self.last_step)
    }

    /// The index of the unused recovery code `code` matches.
    pub fn recovery_index(&self, code: &str) -> Option<usize> {
        self.recovery.iter().position(|h| secret::key_matches(code, h))
    }
}

/// Ten fresh recovery codes (`XXXXX-XXXXX`, Crockford base32, 50 bits each) and their hashes.
pub fn recovery_codes() -> Result<(Vec<String>, Vec<String>), ApiError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let chars = secret::random_base32(10)?;
        let (a, b) = chars.split_at(5);
        codes.push(format!("{a}-{b}"));
    }
    let hashes = codes.iter().map(|c| secret::key_hash(c)).collect();
    Ok((codes, hashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrolled() -> SecondFactor {
        SecondFactor { enrolled_at: Some("x".into()), ..SecondFactor::new().unwrap() }
    }

    #[test]
    fn r_cred_3_rfc_6238_codes_with_one_step_of_drift_each_accepted_once() {
        let f = enrolled();
        let totp = f.totp("0000000001").unwrap();
        let now = 1_795_310_400;
        let code = totp.generate(now).to_string();
        let step = f.check("0000000001", &code, now).unwrap();
        assert_eq!(step, now / 30);
        assert_eq!(f.check("0000000001", &code, now + 30), Some(step), "one step late is fine");
        assert_eq!(f.check("0000000001", &code, now + 90), None, "three steps late is not");
        let used = SecondFactor { last_step: step, ..f.clone() };
        assert_eq!(used.check("0000000001", &code, now), None, "a code is accepted once");
        assert_eq!(f.check("0000000001", "000000x", now), None);
        // §3: typed in full width (a Japanese IME), the same code.
        assert_eq!(f.check("0000000001", &full_width(&code), now), Some(step));
    }

    /// `text` as a Japanese IME in full-width mode types it.
    fn full_width(text: &str) -> String {
        text.chars()
            .map(|c| if c.is_ascii_graphic() { char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c) } else { c })
            .collect()
    }

    #[test]
    fn r_cred_3_the_uri_and_qr_name_the_issuer_and_account() {
        let f = SecondFactor::new().unwrap();
        let uri = f.otpauth_uri("0000000001").unwrap();
        assert!(uri.starts_with("otpauth://totp/ECCS:0000000001?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", f.secret)), "{uri}");
        assert!(f.qr_svg("0000000001").unwrap().starts_with("<?xml"));
    }

    #[test]
    fn r_cred_3_recovery_codes_are_stored_only_as_hashes_and_match_as_typed() {
        let (codes, hashes) = recovery_codes().unwrap();
        assert_eq!((codes.len(), hashes.len()), (10, 10));
        let f = SecondFactor { recovery: hashes.clone(), ..enrolled() };
        assert_eq!(f.recovery_index(&codes[3].to_lowercase()), Some(3));
        assert_eq!(f.recovery_index(&full_width(&codes[4])), Some(4), "typed in full width");
        assert!(hashes.iter().all(|h| !h.contains(&codes[0])));
        assert_eq!(f.recovery_index("AAAAA-AAAAA"), None);
    }
}
