//! Accounts and sign-in: bootstrap, password sign-in with lockout, sessions, API tokens.

mod account;
mod invites;
mod login;
mod orgs;
pub mod proof;
pub mod rate_limit;
mod tokens;

pub use account::{change_password, enable_totp, reauthenticate, recover, start_totp, TotpSetup};
pub use invites::{accept_invite, create_invite, preview_invite, InvitePreview};
pub use login::{
    authenticate_session, bootstrap, csrf_for, login, FirstOwner, LoginInput, LoginOutcome,
};
pub use orgs::create_org;
pub use tokens::{authenticate_token, create_token};

use crate::domain::roles::Role;

/// Who is making a request, in which organization, with which role.
#[derive(Debug, Clone)]
pub struct Principal {
    pub org_id: String,
    pub role: Role,
    /// `user:<id>` or `token:<id>`, as written to the audit log.
    pub actor: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    /// Set for cookie sessions: state-changing requests must echo it.
    pub csrf: Option<String>,
    /// The org requires a second factor and this member has none yet: only their
    /// own account (to enrol) is open to them.
    pub must_enroll_totp: bool,
}

/// Why an identity operation failed; mapped to HTTP in `api`.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("e-mail or password is wrong")]
    InvalidCredentials,
    #[error("this account has a second factor: send \"totp\" (6 digits) or \"recovery_code\"")]
    TotpRequired,
    #[error("this one-time code was already used; wait for the next one")]
    TotpReused,
    #[error("account locked after repeated failed sign-ins; try again after {until}")]
    Locked { until: String },
    #[error("sign-in required")]
    Unauthenticated,
    #[error("session expired; sign in again")]
    SessionExpired,
    #[error("{0}")]
    Policy(String),
    /// An invitation link that is unknown, used, withdrawn or expired.
    #[error("{0}")]
    InviteUnusable(String),
    #[error("{0}")]
    Conflict(String),
    /// The account belongs to several organizations and none was named.
    #[error("this account belongs to several organizations: send \"org\" with one of {}", .0.join(", "))]
    OrgRequired(Vec<String>),
    #[error("{0}")]
    Invalid(String),
    #[error("storage: {0}")]
    Storage(#[from] diesel::result::Error),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
}

impl From<crate::crypto::aead::IntegrityError> for IdentityError {
    fn from(e: crate::crypto::aead::IntegrityError) -> Self {
        IdentityError::Keys(e.into())
    }
}
