//! Notices (R-LC-5, seeds 001 and 003): the daily sweep tells a person 30 days before their
//! ECCS right ends, and before their account is revoked (its valid_until passes) — with the
//! reminder to back up their data, which is out of reach once the account is gone. None while a
//! renewal is pending. A notice is identified by account, kind and the date it warns of, so there
//! is at most one per account per kind per period, and a new date re-arms it.
//!
//! Pure: who gets which notice, and what it says (Japanese, then English).

use chrono::NaiveDate;

use crate::domain::account::{Account, Status};

/// How long before the date the notice goes out.
pub const NOTICE_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// The ECCS usage right ends (before the account does).
    RightExpiry,
    /// The account is revoked when its valid_until passes: back up your data.
    AccountRevocation,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::RightExpiry => "right_expiry",
            NoticeKind::AccountRevocation => "account_revocation",
        }
    }
}

/// The notice's identity: one per account, kind and date.
pub fn notice_id(account: &str, kind: NoticeKind, date: NaiveDate) -> String {
    format!("{account}#{}#{date}", kind.as_str())
}

/// R-LC-5: the date `account` should be warned of for `kind`, if it should be warned at all today
/// (within the window, active, no renewal pending; a right notice only where the right ends
/// before the account, and not when the person asked to stop it).
pub fn due_notice(account: &Account, kind: NoticeKind, today: NaiveDate) -> Option<NaiveDate> {
    if account.status != Status::Active || account.renewal_pending {
        return None;
    }
    let date = match kind {
        NoticeKind::AccountRevocation => account.valid_until,
        NoticeKind::RightExpiry => {
            let until = account.right_until?;
            if account.right_stop_on.is_some() || until >= account.valid_until {
                return None;
            }
            until
        }
    };
    let days = (date - today).num_days();
    (0..=NOTICE_DAYS).contains(&days).then_some(date)
}

/// Subject and body of a notice.
pub fn message(account: &Account, kind: NoticeKind, date: NaiveDate) -> (String, String) {
    let id = &account.id;
    match kind {
        NoticeKind::AccountRevocation => (
            format!("【ECCS】アカウント失効のお知らせ / Your account expires on {date}"),
            format!(
                "{name_ja} 様\n\n\
                 UTokyo Account ({id}) は {date} をもって失効します。失効後は ECCS クラウドメールなど\
                 各システムのデータにアクセスできなくなります。必要なデータは失効前にバックアップしてください。\n\
                 継続して利用する場合は、所属部局で利用継続の手続きをしてください。\n\n\
                 Dear {name_en},\n\n\
                 Your UTokyo Account ({id}) expires on {date}. After that you cannot reach your data in ECCS \
                 cloud mail and the other systems: back up what you need before then. To keep using it, ask your \
                 department to renew it.\n",
                name_ja = account.name.ja,
                name_en = account.name.en,
            ),
        ),
        NoticeKind::RightExpiry => (
            format!("【ECCS】ECCS利用権の期限のお知らせ / Your ECCS usage right ends on {date}"),
            format!(
                "{name_ja} 様\n\n\
                 ECCS利用権は {date} までです。引き続き利用する場合は ECCS申請メニューから利用申請をしてください。\
                 期限後は ECCS の端末とリモートアクセス環境が使えなくなります。\n\n\
                 Dear {name_en},\n\n\
                 Your ECCS usage right ends on {date}. To keep using ECCS, apply again from the application menu. \
                 After that date the ECCS terminals and the remote-access environment are closed to you.\n",
                name_ja = account.name.ja,
                name_en = account.name.en,
            ),
        ),
    }
}

/// A change to how the account can be recovered or signed in to (R-CRED-4), told to the
/// person's cloud-mail address at once: `(subject, body)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityNotice {
    /// The person changed their password (R-CRED-1).
    PasswordChanged,
    /// An identity verification account was linked.
    IdentityLinked,
    /// The link was removed.
    IdentityUnlinked,
    /// The password was reset through the identity verification service.
    PasswordReset { second_factor_removed: bool },
}

impl SecurityNotice {
    pub fn kind(self) -> &'static str {
        match self {
            SecurityNotice::PasswordChanged => "password_changed",
            SecurityNotice::IdentityLinked => "identity_linked",
            SecurityNotice::IdentityUnlinked => "identity_unlinked",
            SecurityNotice::PasswordReset { .. } => "password_reset",
        }
    }

    pub fn message(self, account: &Account, at: &str) -> (String, String) {
        let (subject, ja, en) = match self {
            SecurityNotice::PasswordChanged => (
                "【ECCS】パスワードが変更されました / Your password was changed",
                format!("UTokyo Account のパスワードが {at} に変更されました。"),
                format!("The password of your UTokyo Account was changed at {at}."),
            ),
            SecurityNotice::IdentityLinked => (
                "【ECCS】本人確認サービスが連携されました / Identity verification was linked",
                format!("UTokyo Account に本人確認サービスのアカウントが {at} に連携されました。"),
                format!("An identity verification account was linked to your UTokyo Account at {at}."),
            ),
            SecurityNotice::IdentityUnlinked => (
                "【ECCS】本人確認サービスの連携が解除されました / Identity verification was unlinked",
                format!("UTokyo Account と本人確認サービスの連携が {at} に解除されました。"),
                format!(
                    "The link between your UTokyo Account and the identity verification service was removed at {at}."
                ),
            ),
            SecurityNotice::PasswordReset { second_factor_removed } => (
                "【ECCS】パスワードが再設定されました / Your password was reset",
                format!(
                    "本人確認サービスでの確認により、UTokyo Account のパスワードが {at} に再設定されました。{}",
                    if second_factor_removed { "2段階認証の設定も削除されました。" } else { "" }
                ),
                format!(
                    "Your UTokyo Account's password was reset at {at} after a sign-in at the identity verification service.{}",
                    if second_factor_removed { " Two-step verification was removed as well." } else { "" }
                ),
            ),
        };
        let body = format!(
            "{} 様\n\n{ja}\n心当たりがない場合は、すぐにヘルプデスクに連絡してください。\n\n\
             Dear {},\n\n{en}\nIf this was not you, contact the help desk at once.\n",
            account.name.ja, account.name.en
        );
        (subject.to_owned(), body)
    }
}

/// The mails that carry a one-time link (R-LC-6, R-LC-7), in both languages: what each says, to
/// whom it goes is the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMail<'a> {
    /// To the cloud mail: the conferencing service's invitation.
    Invitation,
    /// To the forwarding address: open the link to start forwarding.
    ForwardingConfirmation,
    /// To the cloud mail: someone asked to forward it to `address` (R-SEC-2).
    ForwardingRequested { address: &'a str },
}

impl LinkMail<'_> {
    pub fn kind(self) -> &'static str {
        match self {
            LinkMail::Invitation => "invitation",
            LinkMail::ForwardingConfirmation => "forwarding_confirmation",
            LinkMail::ForwardingRequested { .. } => "forwarding_requested",
        }
    }

    /// Subject and body, for `account`, with the link valid `until`.
    pub fn message(self, account: &Account, until: &str, link: &str) -> (String, String) {
        let (ja_name, en_name) = (&account.name.ja, &account.name.en);
        match self {
            LinkMail::Invitation => (
                "【ECCS】Web会議サービスへの招待 / Your invitation to the conferencing service".into(),
                format!(
                    "{ja_name} 様\n\nWeb会議サービスのアカウントを有効にするには、{until} までに次のリンクを開いてください。\n{link}\n\
                     期限を過ぎた場合は、ポータルからもう一度申請してください（以前のリンクは使えなくなります）。\n\n\
                     Dear {en_name},\n\nTo activate your conferencing account, open this link before {until}:\n{link}\n\
                     If it expires, apply again in the portal (the earlier link stops working).\n"
                ),
            ),
            LinkMail::ForwardingConfirmation => {
                let mail = &account.mail_address;
                (
                    "【ECCS】メール転送の確認 / Confirm mail forwarding".into(),
                    format!(
                        "ECCS クラウドメール {mail} からこのアドレスへの転送が申請されました。転送を始めるには {until} までに次のリンクを開いてください。\n{link}\n\
                         心当たりがない場合は、このメールを破棄してください。\n\n\
                         Someone asked to forward the ECCS cloud mail {mail} to this address. To start forwarding, open this link before {until}:\n{link}\n\
                         If this was not you, ignore this mail.\n"
                    ),
                )
            }
            LinkMail::ForwardingRequested { address } => (
                "【ECCS】メール転送が申請されました / Mail forwarding was requested".into(),
                format!(
                    "{ja_name} 様\n\nあなたのクラウドメールを {address} へ転送する申請がありました。転送は、そのアドレスに届いたリンクが {until} までに開かれると、次の毎時0分から始まります。\n\
                     心当たりがない場合は、すぐにパスワードを変更し、ヘルプデスクに連絡してください。\n\n\
                     Dear {en_name},\n\nSomeone asked to forward your cloud mail to {address}. Forwarding starts at the next full hour once the link sent to that address is opened (before {until}).\n\
                     If this was not you, change your password at once and contact the help desk.\n"
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::Kind;
    use crate::domain::account::tests::{account, date};

    #[test]
    fn r_lc_5_account_notice_within_30_days_and_none_while_a_renewal_is_pending() {
        let mut a = account(Kind::Student);
        a.valid_until = date("2027-03-31");
        assert_eq!(due_notice(&a, NoticeKind::AccountRevocation, date("2027-02-28")), None, "31 days before");
        assert_eq!(due_notice(&a, NoticeKind::AccountRevocation, date("2027-03-01")), Some(date("2027-03-31")));
        assert_eq!(due_notice(&a, NoticeKind::AccountRevocation, date("2027-03-31")), Some(date("2027-03-31")));
        assert_eq!(due_notice(&a, NoticeKind::AccountRevocation, date("2027-04-01")), None, "after it");
        a.renewal_pending = true;
        assert_eq!(due_notice(&a, NoticeKind::AccountRevocation, date("2027-03-10")), None);
    }

    #[test]
    fn r_lc_5_right_notice_only_where_the_right_ends_first_and_was_not_stopped_on_purpose() {
        let mut a = account(Kind::Staff);
        a.valid_until = date("2030-03-31");
        a.right_until = Some(date("2027-03-31"));
        assert_eq!(due_notice(&a, NoticeKind::RightExpiry, date("2027-03-15")), Some(date("2027-03-31")));
        a.right_stop_on = Some(date("2027-03-20"));
        assert_eq!(due_notice(&a, NoticeKind::RightExpiry, date("2027-03-15")), None);
        a.right_stop_on = None;
        a.right_until = Some(a.valid_until);
        assert_eq!(due_notice(&a, NoticeKind::RightExpiry, date("2030-03-15")), None, "the account notice covers it");
    }

    #[test]
    fn r_lc_5_one_notice_per_account_kind_and_date() {
        assert_eq!(
            notice_id("0000000001", NoticeKind::AccountRevocation, date("2027-03-31")),
            "0000000001#account_revocation#2027-03-31"
        );
        let (subject, body) = message(&account(Kind::Student), NoticeKind::AccountRevocation, date("2027-03-31"));
        assert!(subject.contains("2027-03-31") && body.contains("バックアップ") && body.contains("back up"));
    }
}
