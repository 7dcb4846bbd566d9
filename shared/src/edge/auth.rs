//! Tokens (R-LOGIN-1): RS256 JWTs with the algorithm pinned and `iss`, `aud`, `exp`, `nbf`
//! checked against the [`Clock`](crate::domain::time::Clock), the JWKS and OIDC discovery document that
//! the HttpApi's JWT authorizer reads, and the key material: a PEM read once at cold start
//! (Secrets Manager in AWS, a file generated once under the data folder locally).

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::account::Realm;
use crate::error::ApiError;

/// Token lifetime: R-LOGIN-1 allows at most 30 minutes.
pub const TOKEN_LIFETIME_MINUTES: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The account id; the realm is its own claim.
    pub sub: String,
    pub realm: Realm,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The account's credentials version when the token was issued: a password change, a reset
    /// or a lock raises the account's version, and every older token stops working at once
    /// (R-CRED-1, R-SEC-4). Absent in tokens of accounts that never changed (version 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cv: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Who issues and who may accept tokens.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
}

/// The public half as the JWKS publishes it: the modulus and exponent (base64url) and the key
/// id, its RFC 7638 thumbprint. Read from a public key PEM with an ASN.1 parser and SHA-256
/// alone, no crypto provider: well-known, which only publishes it, links none (jsonwebtoken's
/// provider brings every algorithm of aws-lc, about 1.7 MB of a function).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    n: String,
    e: String,
    kid: String,
}

/// rsaEncryption (RFC 8017), the only key type a token is signed with.
const RSA_ENCRYPTION: [u64; 7] = [1, 2, 840, 113549, 1, 1, 1];

impl PublicKey {
    /// From a public key PEM (SubjectPublicKeyInfo, or PKCS#1 `RSA PUBLIC KEY`) as configuration
    /// gives it: with its line breaks, or folded onto one line (a template parameter is one
    /// line: `tr '\n' ' ' < jwt-public.pem`).
    pub fn from_pem_text(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (label, body) = ["PUBLIC KEY", "RSA PUBLIC KEY"]
            .iter()
            .find_map(|label| {
                let begin = format!("-----BEGIN {label}-----");
                let end = format!("-----END {label}-----");
                text.strip_prefix(&begin).and_then(|r| r.strip_suffix(&end)).map(|body| (*label, body))
            })
            .ok_or("public key: not a PEM public key (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----)")?;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der =
            base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()).map_err(|e| format!("public key: {e}"))?;
        let blocks = simple_asn1::from_der(&der).map_err(|e| format!("public key: {e}"))?;
        let (n, e) = if label == "PUBLIC KEY" { Self::spki(&blocks)? } else { Self::pkcs1(&blocks)? };
        Ok(Self::from_components(&n, &e))
    }

    /// SubjectPublicKeyInfo: the algorithm (rsaEncryption) and a bit string holding PKCS#1.
    fn spki(blocks: &[simple_asn1::ASN1Block]) -> Result<(Vec<u8>, Vec<u8>), String> {
        use simple_asn1::ASN1Block::{BitString, ObjectIdentifier, Sequence};
        let [Sequence(_, fields)] = blocks else { return Err("public key: not a SubjectPublicKeyInfo".into()) };
        let [Sequence(_, algorithm), BitString(_, _, key)] = fields.as_slice() else {
            return Err("public key: not a SubjectPublicKeyInfo".into());
        };
        let is_rsa = matches!(algorithm.first(), Some(ObjectIdentifier(_, oid))
            if oid.as_vec::<u64>().is_ok_and(|v| v == RSA_ENCRYPTION));
        if !is_rsa {
            return Err("public key: not an RSA key".into());
        }
        Self::pkcs1(&simple_asn1::from_der(key).map_err(|e| format!("public key: {e}"))?)
    }

    /// RSAPublicKey (RFC 8017): the modulus and the public exponent, both positive.
    fn pkcs1(blocks: &[simple_asn1::ASN1Block]) -> Result<(Vec<u8>, Vec<u8>), String> {
        use simple_asn1::ASN1Block::{Integer, Sequence};
        let [Sequence(_, fields)] = blocks else { return Err("public key: not an RSA public key".into()) };
        let [Integer(_, n), Integer(_, e)] = fields.as_slice() else {
            return Err("public key: not an RSA public key".into());
        };
        let positive = |i: &simple_asn1::BigInt| {
            i.to_biguint()
                .filter(|u| u.bits() > 1)
                .map(|u| u.to_bytes_be())
                .ok_or_else(|| "public key: a modulus or exponent that is not above 1".to_owned())
        };
        Ok((positive(n)?, positive(e)?))
    }

    /// From the big-endian modulus and exponent; the key id is the RFC 7638 thumbprint.
    fn from_components(n: &[u8], e: &[u8]) -> Self {
        use sha2::Digest;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let (n, e) = (b64(n), b64(e));
        let members = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = b64(&sha2::Sha256::digest(members.as_bytes()));
        Self { n, e, kid }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [{ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": self.n, "e": self.e }] })
    }

    fn decoding_key(&self) -> Result<DecodingKey, String> {
        DecodingKey::from_rsa_components(&self.n, &self.e).map_err(|e| format!("decoding key: {e}"))
    }
}

/// The RSA key: always the public half for verification; the private half only where tokens are
/// issued (the session function).
#[derive(Clone)]
pub struct Keys {
    signing: Option<EncodingKey>,
    verifying: DecodingKey,
    public: PublicKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Keys").field("kid", &self.public.kid).field("signing", &self.signing.is_some()).finish()
    }
}

impl Keys {
    /// From a PKCS#8 or PKCS#1 private key PEM: can issue and verify.
    pub fn from_private_pem(pem: &str) -> Result<Self, String> {
        let signing = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| format!("private key: {e}"))?;
        let jwk = Jwk::from_encoding_key(&signing, Algorithm::RS256).map_err(|e| format!("jwk: {e}"))?;
        let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else { return Err("private key: not an RSA key".into()) };
        let decode =
            |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v).map_err(|e| format!("jwk: {e}"));
        let public = PublicKey::from_components(&decode(&rsa.n)?, &decode(&rsa.e)?);
        Ok(Self { signing: Some(signing), verifying: public.decoding_key()?, public })
    }

    /// From a public key PEM ([`PublicKey::from_pem_text`]): can only verify.
    pub fn from_public_pem_text(text: &str) -> Result<Self, String> {
        let public = PublicKey::from_pem_text(text)?;
        Ok(Self { signing: None, verifying: public.decoding_key()?, public })
    }

    /// A new 2048-bit RSA key as a PKCS#8 PEM.
    pub fn generate_pem() -> Result<String, String> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("rsa keygen: {e}"))?;
        let der = pair.as_der().map_err(|e| format!("pkcs8: {e}"))?;
        Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec())))
    }

    /// Reads the private key at `path`, generating it once if it is missing. Concurrent first
    /// runs each write a temporary file and rename it into place, so every reader sees a whole key.
    pub fn load_or_generate(path: &Path) -> Result<Self, String> {
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, Self::generate_pem()?).map_err(|e| format!("{}: {e}", tmp.display()))?;
            restrict_to_owner(&tmp);
            if !path.exists() {
                std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
            } else {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_private_pem(&pem)
    }

    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    /// The published half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The JWKS served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        self.public.jwks()
    }

    /// Checks that `published` — the public key PEM every other function verifies with and
    /// well-known publishes — is this signing key's public half. If it is not, every token this
    /// key signs is refused everywhere else: better no sign-in at all, with the reason in the log,
    /// than sign-ins that end in "session expired" on every menu.
    pub fn check_published(&self, published: &str) -> Result<(), String> {
        let published = PublicKey::from_pem_text(published).map_err(|e| format!("JWT_PUBLIC_KEY: {e}"))?;
        if published == self.public {
            Ok(())
        } else {
            Err(format!(
                "JWT_PUBLIC_KEY (key id {}) is not the public half of the signing key (key id {}): the other functions \
                 would refuse every token; publish the matching public key",
                published.kid, self.public.kid
            ))
        }
    }

    /// Issues a token for `sub` valid from `now` for [`TOKEN_LIFETIME_MINUTES`].
    pub fn issue(
        &self,
        settings: &TokenSettings,
        realm: Realm,
        sub: &str,
        cv: u64,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let signing = self.signing.as_ref().ok_or_else(|| ApiError::Internal("no signing key here".into()))?;
        let expires = now + Duration::minutes(TOKEN_LIFETIME_MINUTES);
        let claims = Claims {
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            sub: sub.to_owned(),
            realm,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            cv,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.public.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, signing).map_err(|e| ApiError::Internal(format!("sign: {e}")))?;
        Ok((token, expires))
    }

    /// Verifies signature (RS256 only), issuer and audience, then the lifetime against `now`.
    pub fn verify(&self, settings: &TokenSettings, token: &str, now: DateTime<Utc>) -> Result<Claims, ApiError> {
        let mut v = Validation::new(Algorithm::RS256);
        v.algorithms = vec![Algorithm::RS256];
        v.set_issuer(&[&settings.issuer]);
        v.set_audience(&[&settings.audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // The lifetime is checked below against the Clock, which the local runner can set.
        v.validate_exp = false;
        v.validate_nbf = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.verifying, &v).map_err(|_| ApiError::Unauthorized)?;
        let claims = data.claims;
        let t = now.timestamp();
        if claims.nbf > t + 5 || claims.iat > t + 5 {
            return Err(ApiError::Unauthorized);
        }
        if claims.exp <= t {
            return Err(ApiError::TokenExpired);
        }
        if claims.exp - claims.iat > TOKEN_LIFETIME_MINUTES * 60 {
            return Err(ApiError::Unauthorized);
        }
        if !claims.realm.is_valid_id(&claims.sub) {
            return Err(ApiError::Unauthorized);
        }
        Ok(claims)
    }
}

/// The OIDC discovery document of R-LOGIN-1: what the HttpApi JWT authorizer reads to find the
/// keys of `issuer`.
pub fn discovery_document(issuer: &str) -> Value {
    let base = issuer.trim_end_matches('/');
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "authorization_endpoint": format!("{base}/api/session"),
        "token_endpoint": format!("{base}/api/session"),
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "claims_supported": ["iss", "aud", "sub", "realm", "iat", "nbf", "exp", "jti", "cv"],
    })
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TokenSettings {
        TokenSettings { issuer: "http://127.0.0.1:3000".into(), audience: "eccs".into() }
    }

    fn keys() -> Keys {
        Keys::from_private_pem(&Keys::generate_pem().unwrap()).unwrap()
    }

    #[test]
    fn r_login_1_issued_token_verifies_and_carries_the_subject() {
        let k = keys();
        let now = Utc::now();
        let (token, exp) = k.issue(&settings(), Realm::Utokyo, "0000000001", 0, now).unwrap();
        assert_eq!(exp - now, Duration::minutes(30));
        let c = k.verify(&settings(), &token, now).unwrap();
        assert_eq!((c.sub.as_str(), c.realm), ("0000000001", Realm::Utokyo));
        assert_eq!(k.verify(&settings(), &token, exp), Err(ApiError::TokenExpired));
        let other = TokenSettings { audience: "other".into(), ..settings() };
        assert_eq!(k.verify(&other, &token, now), Err(ApiError::Unauthorized));
    }

    #[test]
    fn r_login_1_public_key_from_jwks_verifies_but_cannot_sign() {
        let k = keys();
        let (token, _) = k.issue(&settings(), Realm::Workshop, "ws0001", 3, Utc::now()).unwrap();
        let jwk: Jwk = serde_json::from_value(k.jwks()["keys"][0].clone()).unwrap();
        let public = DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&["eccs"]);
        assert!(jsonwebtoken::decode::<Claims>(&token, &public, &v).is_ok());
        assert_eq!(k.jwks()["keys"][0]["kid"], k.kid());
        assert!(k.jwks().to_string().find("\"d\"").is_none(), "no private exponent in the JWKS");
    }

    /// The public key PEM of a private key PEM, folded onto one line as the template passes it.
    fn public_pem_of(private: &str) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", spki_of(private))).replace('\n', " ")
    }

    /// The SubjectPublicKeyInfo (DER) of a private key PEM, by aws-lc.
    fn spki_of(private: &str) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&pem::parse(private).unwrap().into_contents()).unwrap();
        pair.public_key().as_der().unwrap().as_ref().to_vec()
    }

    #[test]
    fn the_signer_refuses_to_start_with_a_published_key_that_is_not_its_own() {
        let private = Keys::generate_pem().unwrap();
        let signer = Keys::from_private_pem(&private).unwrap();
        assert_eq!(signer.check_published(&public_pem_of(&private)), Ok(()));
        let other = Keys::generate_pem().unwrap();
        let err = signer.check_published(&public_pem_of(&other)).unwrap_err();
        let other_kid = Keys::from_private_pem(&other).unwrap().kid().to_owned();
        assert!(err.contains(signer.kid()) && err.contains(&other_kid), "{err}");
        assert!(!err.contains("MII"), "no key material in the message: {err}");
        assert!(signer.check_published("-----BEGIN PUBLIC KEY----- garbage -----END PUBLIC KEY-----").is_err());
    }

    /// The JWKS well-known publishes (read without a crypto provider) is jsonwebtoken's own: the
    /// same modulus, exponent and RFC 7638 thumbprint, from the SPKI PEM folded or not, and from
    /// the PKCS#1 form.
    #[test]
    fn r_login_1_the_lean_public_key_is_jsonwebtokens_jwk() {
        use jsonwebtoken::jwk::{PublicKeyUse, ThumbprintHash};
        let private = Keys::generate_pem().unwrap();
        let signing = EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
        let mut expected = Jwk::from_encoding_key(&signing, Algorithm::RS256).unwrap();
        let kid = expected.thumbprint(ThumbprintHash::SHA256).unwrap();
        expected.common.key_id = Some(kid.clone());
        expected.common.public_key_use = Some(PublicKeyUse::Signature);
        let expected = json!({ "keys": [serde_json::to_value(&expected).unwrap()] });

        let spki = spki_of(&private);
        let spki_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.clone()));
        let folded = spki_pem.replace('\n', " ");
        // PKCS#1: the bit string inside the SPKI.
        let blocks = simple_asn1::from_der(&spki).unwrap();
        let Some(simple_asn1::ASN1Block::Sequence(_, fields)) = blocks.first() else { panic!("spki") };
        let Some(simple_asn1::ASN1Block::BitString(_, _, pkcs1)) = fields.get(1) else { panic!("bit string") };
        let pkcs1_pem = pem::encode(&pem::Pem::new("RSA PUBLIC KEY", pkcs1.clone()));
        for text in [&spki_pem, &folded, &pkcs1_pem] {
            let public = PublicKey::from_pem_text(text).unwrap();
            assert_eq!(public.jwks(), expected, "{text}");
            assert_eq!(public.kid(), kid);
            assert_eq!(Keys::from_public_pem_text(text).unwrap().jwks(), expected);
        }
        assert_eq!(Keys::from_private_pem(&private).unwrap().jwks(), expected);

        // Not a key, not RSA, or cut short: refused with the reason, never a key.
        let p256 = aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING)
            .unwrap();
        let ec = {
            use aws_lc_rs::signature::KeyPair as _;
            pem::encode(&pem::Pem::new("PUBLIC KEY", p256.public_key().as_der().unwrap().as_ref().to_vec()))
        };
        let cut = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.get(..40).unwrap_or_default().to_vec()));
        for bad in
            [ec.as_str(), cut.as_str(), "-----BEGIN PUBLIC KEY----- garbage -----END PUBLIC KEY-----", private.as_str()]
        {
            assert!(PublicKey::from_pem_text(bad).is_err(), "{bad}");
        }
    }
}
