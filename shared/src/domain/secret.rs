//! One-time secrets — activation keys, link tokens, recovery codes, grants: random characters,
//! stored only as a hash, compared in constant time.

use crate::error::ApiError;

/// `n` random characters of Crockford's base32 (no I, L, O, U): 5 bits each.
pub fn random_base32(n: usize) -> Result<String, ApiError> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::Internal("no randomness".into()))?;
    Ok(bytes.iter().map(|b| char::from(*ALPHABET.get(usize::from(*b) % 32).unwrap_or(&b'A'))).collect())
}

/// What a key is stored as: SHA-256 of its normalised form — full-width characters read as what
/// they show (§3: a Japanese IME's `２ＶＮＤ`), upper case, separators dropped, and Crockford's
/// look-alikes read as the digits they stand for (I, L → 1; O → 0). A key has 80 random bits, so
/// a fast hash is enough; a password needs argon2id, a key does not.
pub fn key_hash(key: &str) -> String {
    let normal: String = super::typed::identifier(key)
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
