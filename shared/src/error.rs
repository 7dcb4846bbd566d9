//! The one error type of the API (SPEC §3): every failure a client can see, with its status, its
//! snake_case code and a bilingual message. Handlers return `Result<_, ApiError>` and never build
//! error JSON by hand; [`ApiError::body`] renders `{"error": {"code", "message", "details"}}`.

use http::StatusCode;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// Malformed JSON, unknown fields, wrong types, missing body: the reason is shown.
    BadRequest(String),
    PayloadTooLarge,
    /// No token, or a token that fails verification.
    Unauthorized,
    /// A well-formed token whose lifetime is over.
    TokenExpired,
    /// R-LOGIN-2: one answer for a wrong account, a wrong password, a revoked or expired account.
    InvalidCredentials,
    /// R-LOGIN-3.
    TooManyAttempts {
        retry_after: u64,
    },
    /// R-SEC-2: too many requests of one kind (forwarding confirmations per day).
    TooManyRequests {
        retry_after: u64,
    },
    /// A token of the other realm (a workshop token on a UTokyo endpoint, or the reverse).
    RealmNotAllowed,
    EccsRightRequired,
    RemoteAccessCapacityExceeded {
        capacity: i64,
        in_use: i64,
    },
    InitialPasswordNotChanged,
    InvalidAddress {
        reasons: Vec<&'static str>,
    },
    AddressTaken,
    ChangeTooSoon {
        next_change_allowed_at: String,
    },
    PasswordPolicy {
        violations: Vec<&'static str>,
    },
    NotFacultyOrStaff,
    EccsRightAlreadyValid,
    EccsRightNotValid,
    InvalidStopDate {
        earliest: String,
        latest: Option<String>,
    },
    ProxyPermissionRequired,
    TargetNotFoundOrNotEligible,
    OperatorRequired,
    /// R-LC-1: lines of an import that break the rules, `(line, reason)`.
    ImportInvalid {
        lines: Vec<(usize, String)>,
    },
    /// R-LC-3: a wrong, expired or used activation key — one answer for all.
    InvalidActivationKey,
    /// R-LC-4: a reset for an activated account without an in-person check.
    IdentityVerificationRequired,
    /// R-CMA-3: there is no pending address change to withdraw.
    NothingPending,
    /// R-APP-SUS-3: no such application of the caller's.
    ApplicationNotFound,
    /// R-APP-SUS-3: the application is in effect (or closed) and can no longer be withdrawn.
    AlreadyApplied,
    /// R-CRED-3: a wrong code while enrolling or removing the second factor.
    InvalidCode,
    /// R-CRED-3: the second step of login refused — a wrong, used or expired challenge or code;
    /// one answer for all.
    InvalidSecondFactor,
    /// R-CRED-3: a second factor is already enrolled (remove it first).
    SecondFactorEnrolled,
    /// R-LC-3: there is no key to extend.
    NoActivationKey,
    /// R-LC-6: the service is already active.
    ServiceAlreadyActive,
    /// R-LC-6..7: a wrong, used or expired link — one answer for all.
    LinkNotFoundOrExpired,
    /// R-CRED-4: the provider's answer could not be verified (an unknown or used `state`, another
    /// browser, a provider error, an ID token whose signature, issuer, audience, expiry or nonce
    /// is wrong); 400 `bad_request` with the reason.
    IdentityRefused {
        reason: &'static str,
    },
    /// R-CRED-4: the provider's account is already linked to another account (400 `bad_request`).
    IdentityAlreadyLinked,
    /// R-CRED-4: an unknown account, an account without a link, another `sub`, or a wrong, used
    /// or expired grant — one answer for all.
    ResetNotPossible,
    /// R-CRED-4: no identity verification provider is configured.
    ProviderNotConfigured,
    NotFound,
    /// With the methods the resource does serve (the `Allow` header, RFC 9110).
    MethodNotAllowed {
        allow: String,
    },
    /// The database could not be reached; the client may retry.
    ServiceUnavailable {
        retry_after: u64,
    },
    /// A fault of ours. The detail goes to the log, never to the client.
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            BadRequest(_)
            | InvalidAddress { .. }
            | PasswordPolicy { .. }
            | InvalidStopDate { .. }
            | ImportInvalid { .. }
            | IdentityRefused { .. }
            | IdentityAlreadyLinked
            | InvalidCode => StatusCode::BAD_REQUEST,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Unauthorized | TokenExpired | InvalidCredentials | InvalidActivationKey | InvalidSecondFactor => {
                StatusCode::UNAUTHORIZED
            }
            TooManyAttempts { .. } | TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            RealmNotAllowed
            | EccsRightRequired
            | InitialPasswordNotChanged
            | NotFacultyOrStaff
            | ProxyPermissionRequired
            | OperatorRequired => StatusCode::FORBIDDEN,
            RemoteAccessCapacityExceeded { .. }
            | AddressTaken
            | ChangeTooSoon { .. }
            | EccsRightAlreadyValid
            | EccsRightNotValid
            | IdentityVerificationRequired
            | NoActivationKey
            | ServiceAlreadyActive
            | AlreadyApplied
            | SecondFactorEnrolled => StatusCode::CONFLICT,
            TargetNotFoundOrNotEligible
            | NotFound
            | LinkNotFoundOrExpired
            | NothingPending
            | ApplicationNotFound
            | ResetNotPossible => StatusCode::NOT_FOUND,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ServiceUnavailable { .. } | ProviderNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            BadRequest(_) | IdentityRefused { .. } | IdentityAlreadyLinked => "bad_request",
            PayloadTooLarge => "payload_too_large",
            Unauthorized => "unauthorized",
            TokenExpired => "token_expired",
            InvalidCredentials => "invalid_credentials",
            TooManyAttempts { .. } => "too_many_attempts",
            TooManyRequests { .. } => "too_many_requests",
            RealmNotAllowed => "realm_not_allowed",
            EccsRightRequired => "eccs_right_required",
            RemoteAccessCapacityExceeded { .. } => "remote_access_capacity_exceeded",
            InitialPasswordNotChanged => "initial_password_not_changed",
            InvalidAddress { .. } => "invalid_address",
            AddressTaken => "address_taken",
            ChangeTooSoon { .. } => "change_too_soon",
            PasswordPolicy { .. } => "password_policy",
            NotFacultyOrStaff => "not_faculty_or_staff",
            EccsRightAlreadyValid => "eccs_right_already_valid",
            EccsRightNotValid => "eccs_right_not_valid",
            InvalidStopDate { .. } => "invalid_stop_date",
            ProxyPermissionRequired => "proxy_permission_required",
            TargetNotFoundOrNotEligible => "target_not_found_or_not_eligible",
            OperatorRequired => "operator_required",
            ImportInvalid { .. } => "import_invalid",
            InvalidActivationKey => "invalid_activation_key",
            IdentityVerificationRequired => "identity_verification_required",
            NoActivationKey => "no_activation_key",
            NothingPending => "nothing_pending",
            InvalidCode | InvalidSecondFactor => "invalid_code",
            SecondFactorEnrolled => "second_factor_enrolled",
            ApplicationNotFound => "application_not_found",
            AlreadyApplied => "already_applied",
            ServiceAlreadyActive => "service_already_active",
            LinkNotFoundOrExpired => "link_not_found_or_expired",
            ResetNotPossible => "reset_not_possible",
            ProviderNotConfigured => "identity_provider_not_configured",
            NotFound => "not_found",
            MethodNotAllowed { .. } => "method_not_allowed",
            ServiceUnavailable { .. } => "service_unavailable",
            Internal(_) => "internal_error",
        }
    }

    /// "日本語 / English", as the manual's screens show them.
    pub fn message(&self) -> &'static str {
        use ApiError::*;
        match self {
            BadRequest(_) => "リクエストの形式が正しくありません / The request is not valid",
            PayloadTooLarge => "リクエストが大きすぎます（上限 16 KiB） / The request body is too large (limit 16 KiB)",
            Unauthorized => "ログインしてください / Please log in",
            TokenExpired => {
                "セッションの有効期限が切れました。もう一度ログインしてください / Your session has expired; please log in again"
            }
            InvalidCredentials => "アカウントもしくはパスワードに誤りがあります / The account or password is incorrect",
            TooManyAttempts { .. } => {
                "失敗が続いたため、しばらく試せません。時間をおいて再度お試しください / Too many failed attempts; please try again later"
            }
            TooManyRequests { .. } => {
                "本日の申請回数の上限に達しました。明日以降にもう一度お試しください / Too many requests today; please try again tomorrow"
            }
            RealmNotAllowed => {
                "このアカウントでは利用できないメニューです / This menu is not available to this account"
            }
            EccsRightRequired => "ECCS利用権が有効な方のみ利用できます / A valid ECCS usage right is required",
            RemoteAccessCapacityExceeded { .. } => {
                "リモートアクセス環境の利用者数が上限に達しているため、利用できません / The remote-access environment has reached its limit of users"
            }
            InitialPasswordNotChanged => {
                "UTokyo Account の初期パスワードを変更してから利用してください / Change the initial password of your UTokyo Account first"
            }
            InvalidAddress { .. } => "メールアドレスが規則を満たしていません / The address does not meet the rules",
            AddressTaken => "このメールアドレスは使用できません / This address is not available",
            ChangeTooSoon { .. } => {
                "クラウドメールアドレスは前回の変更後30日間は変更できません / The cloud-mail address cannot be changed within 30 days of the previous change"
            }
            PasswordPolicy { .. } => "パスワードがポリシーを満たしていません / The password does not meet the policy",
            NotFacultyOrStaff => "教職員の方のみ申請できます / Only faculty and staff can apply",
            EccsRightAlreadyValid => "既にECCS利用権が有効です / The ECCS usage right is already valid",
            EccsRightNotValid => "ECCS利用権が有効ではありません / The ECCS usage right is not valid",
            InvalidStopDate { .. } => {
                "停止希望日は本日以降、利用権の有効期限以前の日付を指定してください / The stop date must be today or later and not after the right's expiry"
            }
            ProxyPermissionRequired => "代理申請の権限がありません / You do not have proxy permission",
            TargetNotFoundOrNotEligible => {
                "対象者が存在しないか、ECCS利用権を付与する状態ではありません / The target does not exist or cannot receive the ECCS usage right"
            }
            OperatorRequired => "ヘルプデスク担当者のみ利用できます / Only help-desk operators can use this",
            ImportInvalid { .. } => {
                "取り込むファイルに誤りがあります。何も取り込んでいません / The file has errors; nothing was imported"
            }
            InvalidActivationKey => {
                "アカウントまたは有効化キーに誤りがあるか、有効化キーの期限が切れています / The account or activation key is wrong, or the key has expired"
            }
            IdentityVerificationRequired => {
                "パスワードの再設定には窓口での本人確認が必要です。確認した書類を記録してください / A password reset needs an in-person identity check: record the document seen"
            }
            NoActivationKey => "延長できる有効化キーがありません / There is no activation key to extend",
            NothingPending => "取り消せる変更はありません / There is no pending change to withdraw",
            InvalidCode => "確認コードが正しくありません / The code is not correct",
            InvalidSecondFactor => {
                "確認コードが正しくないか、期限が切れています。もう一度ログインしてください / The code is not correct or has expired; please log in again"
            }
            SecondFactorEnrolled => "2段階認証は既に設定されています / A second factor is already set up",
            ApplicationNotFound => "申請が見つかりません / No such application",
            AlreadyApplied => {
                "この申請は既に反映済みか終了しているため、取り下げられません / This application is already in effect or closed and cannot be withdrawn"
            }
            ServiceAlreadyActive => "このサービスは既に利用できます / This service is already active",
            LinkNotFoundOrExpired => {
                "このリンクは無効か、期限が切れています。もう一度申請してください / This link is not valid or has expired; please ask again"
            }
            IdentityRefused { .. } => {
                "本人確認サービスでの確認を完了できませんでした。最初からもう一度お試しください / The identity verification could not be completed; please start again"
            }
            IdentityAlreadyLinked => {
                "この本人確認サービスのアカウントは、既に別のアカウントと連携されています / This identity verification account is already linked to another account"
            }
            ResetNotPossible => {
                "この方法ではパスワードを再設定できません。本人確認サービスを連携済みのアカウントか確認するか、窓口で手続きしてください / The password cannot be reset this way: check that the account is linked to the identity verification service, or visit the help desk"
            }
            ProviderNotConfigured => {
                "本人確認サービスが設定されていないため、利用できません / No identity verification service is configured"
            }
            NotFound => "見つかりません / Not found",
            MethodNotAllowed { .. } => "このメソッドは使えません / Method not allowed",
            ServiceUnavailable { .. } => {
                "ただいま処理できません。しばらくしてから再度お試しください / The service is unavailable; please retry shortly"
            }
            Internal(_) => "内部エラーが発生しました / An internal error occurred",
        }
    }

    pub fn details(&self) -> Value {
        use ApiError::*;
        match self {
            BadRequest(reason) => json!({ "reason": reason }),
            IdentityRefused { reason } => json!({ "reason": reason }),
            IdentityAlreadyLinked => json!({ "reason": "identity_already_linked" }),
            TooManyAttempts { retry_after } | TooManyRequests { retry_after } | ServiceUnavailable { retry_after } => {
                json!({ "retry_after": retry_after })
            }
            RemoteAccessCapacityExceeded { capacity, in_use } => {
                json!({ "capacity": capacity, "in_use": in_use })
            }
            InvalidAddress { reasons } => json!({ "reasons": reasons }),
            ChangeTooSoon { next_change_allowed_at } => {
                json!({ "next_change_allowed_at": next_change_allowed_at })
            }
            PasswordPolicy { violations } => json!({ "violations": violations }),
            InvalidStopDate { earliest, latest } => {
                json!({ "earliest": earliest, "latest": latest })
            }
            MethodNotAllowed { allow } => json!({ "allow": allow }),
            ImportInvalid { lines } => json!({
                "lines": lines.iter().map(|(line, reason)| json!({ "line": line, "reason": reason })).collect::<Vec<_>>()
            }),
            _ => json!({}),
        }
    }

    /// What a page is told of a refusal it is redirected to (`?error=…`): the reason where the
    /// details give one, else the code.
    pub fn reason(&self) -> String {
        match self {
            ApiError::IdentityRefused { reason } => (*reason).to_owned(),
            ApiError::IdentityAlreadyLinked => "identity_already_linked".to_owned(),
            other => other.code().to_owned(),
        }
    }

    /// The `Allow` header of a 405.
    pub fn allow(&self) -> Option<&str> {
        match self {
            ApiError::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }

    /// Seconds the client should wait, sent also as the `Retry-After` header.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyAttempts { retry_after }
            | ApiError::TooManyRequests { retry_after }
            | ApiError::ServiceUnavailable { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    pub fn body(&self) -> Value {
        json!({ "error": { "code": self.code(), "message": self.message(), "details": self.details() } })
    }
}

#[cfg(any(test, feature = "test-support"))]
impl ApiError {
    /// One of each kind, for the contract tests (the exhaustive match below fails to compile
    /// when a kind is added and not listed here).
    pub fn examples() -> Vec<ApiError> {
        use ApiError::*;
        let all = vec![
            BadRequest(String::new()),
            PayloadTooLarge,
            Unauthorized,
            TokenExpired,
            InvalidCredentials,
            TooManyAttempts { retry_after: 1 },
            TooManyRequests { retry_after: 1 },
            RealmNotAllowed,
            EccsRightRequired,
            RemoteAccessCapacityExceeded { capacity: 0, in_use: 0 },
            InitialPasswordNotChanged,
            InvalidAddress { reasons: vec![] },
            AddressTaken,
            ChangeTooSoon { next_change_allowed_at: String::new() },
            PasswordPolicy { violations: vec![] },
            NotFacultyOrStaff,
            EccsRightAlreadyValid,
            EccsRightNotValid,
            InvalidStopDate { earliest: String::new(), latest: None },
            ProxyPermissionRequired,
            TargetNotFoundOrNotEligible,
            OperatorRequired,
            ImportInvalid { lines: vec![] },
            InvalidActivationKey,
            IdentityVerificationRequired,
            NoActivationKey,
            NothingPending,
            InvalidCode,
            InvalidSecondFactor,
            SecondFactorEnrolled,
            ApplicationNotFound,
            AlreadyApplied,
            ServiceAlreadyActive,
            LinkNotFoundOrExpired,
            IdentityRefused { reason: "state_unknown_or_used" },
            IdentityAlreadyLinked,
            ResetNotPossible,
            ProviderNotConfigured,
            NotFound,
            MethodNotAllowed { allow: String::new() },
            ServiceUnavailable { retry_after: 1 },
            Internal(String::new()),
        ];
        for e in &all {
            match e {
                BadRequest(_)
                | PayloadTooLarge
                | Unauthorized
                | TokenExpired
                | InvalidCredentials
                | TooManyAttempts { .. }
                | TooManyRequests { .. }
                | RealmNotAllowed
                | EccsRightRequired
                | RemoteAccessCapacityExceeded { .. }
                | InitialPasswordNotChanged
                | InvalidAddress { .. }
                | AddressTaken
                | ChangeTooSoon { .. }
                | PasswordPolicy { .. }
                | NotFacultyOrStaff
                | EccsRightAlreadyValid
                | EccsRightNotValid
                | InvalidStopDate { .. }
                | ProxyPermissionRequired
                | TargetNotFoundOrNotEligible
                | OperatorRequired
                | ImportInvalid { .. }
                | InvalidActivationKey
                | IdentityVerificationRequired
                | NoActivationKey
                | NothingPending
                | InvalidCode
                | InvalidSecondFactor
                | SecondFactorEnrolled
                | ApplicationNotFound
                | AlreadyApplied
                | ServiceAlreadyActive
                | LinkNotFoundOrExpired
                | IdentityRefused { .. }
                | IdentityAlreadyLinked
                | ResetNotPossible
                | ProviderNotConfigured
                | NotFound
                | MethodNotAllowed { .. }
                | ServiceUnavailable { .. }
                | Internal(_) => {}
            }
        }
        all
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Internal(detail) => write!(f, "internal_error: {detail}"),
            other => f.write_str(other.code()),
        }
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_renders_code_message_and_details() {
        let e = ApiError::PasswordPolicy { violations: vec!["too_short", "missing_digit"] };
        let body = e.body();
        assert_eq!(body["error"]["code"], "password_policy");
        assert_eq!(body["error"]["details"]["violations"][1], "missing_digit");
        assert!(body["error"]["message"].as_str().unwrap().contains(" / "));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn internal_detail_never_reaches_the_body() {
        let body = ApiError::Internal("table accounts missing".into()).body();
        assert!(!body.to_string().contains("accounts"));
    }
}
