//! Authorization as a type: a handler that takes `Authed<N>` cannot run unless the
//! caller is signed in (session cookie or API token) and their role allows `N`.

use super::error::{current_request_id, AppError};
use crate::domain::roles::{allows, Permission};
use crate::identity::{self, IdentityError, Principal};
use crate::server::AppState;
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "insite_session";
/// Header that must carry the CSRF token on state-changing cookie requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A permission a route needs, as a type.
pub trait Need {
    const PERMISSION: Permission;
}

/// Any signed-in member (own account pages).
pub struct Member;
impl Need for Member {
    const PERMISSION: Permission = Permission::UseOwnAccount;
}

/// Owners and admins: users, roles, tokens.
pub struct ManageUsers;
impl Need for ManageUsers {
    const PERMISSION: Permission = Permission::ManageUsers;
}

/// Owners, admins and auditors: the audit log.
pub struct ReadAudit;
impl Need for ReadAudit {
    const PERMISSION: Permission = Permission::ReadAudit;
}

/// Conversations: everyone reads their own; owners, admins, managers and reviewers all.
pub struct ReadConversations;
impl Need for ReadConversations {
    const PERMISSION: Permission = Permission::ReadOwnConversations;
}

/// Owners, admins, managers and reviewers: every agent's conversations and the
/// figures across them (the dashboard).
pub struct ReadAll;
impl Need for ReadAll {
    const PERMISSION: Permission = Permission::ReadAllConversations;
}

/// Owners, admins and managers: upload recordings and tickets, steer jobs.
pub struct Ingest;
impl Need for Ingest {
    const PERMISSION: Permission = Permission::Ingest;
}

/// Owners, admins, managers and reviewers: override answers, resolve disputes.
pub struct ReviewScores;
impl Need for ReviewScores {
    const PERMISSION: Permission = Permission::ReviewScores;
}

/// Owners and admins: organization settings.
pub struct ManageSettings;
impl Need for ManageSettings {
    const PERMISSION: Permission = Permission::ManageSettings;
}

/// Owners, admins and auditors (the DPO): data subjects, their requests, legal holds.
pub struct HandleSubjectRequests;
impl Need for HandleSubjectRequests {
    const PERMISSION: Permission = Permission::HandleSubjectRequests;
}

/// A caller allowed to do `N`.
pub struct Authed<N: Need> {
    pub principal: Principal,
    pub ip: String,
    _need: PhantomData<N>,
}

impl<N: Need> Clone for Authed<N> {
    fn clone(&self) -> Self {
        Self {
            principal: self.principal.clone(),
            ip: self.ip.clone(),
            _need: PhantomData,
        }
    }
}

impl<N: Need> Authed<N> {
    /// The same caller for a route that needs `M` (the console's pages show data of
    /// several routes): 403 when the role does not allow `M`.
    pub fn allowed<M: Need>(&self) -> Result<Authed<M>, AppError> {
        if !allows(self.principal.role, M::PERMISSION) {
            return Err(AppError::Forbidden {
                code: "FORBIDDEN",
                message: format!("the {} role may not do this", self.principal.role),
            });
        }
        Ok(Authed {
            principal: self.principal.clone(),
            ip: self.ip.clone(),
            _need: PhantomData,
        })
    }
}

impl From<IdentityError> for AppError {
    fn from(e: IdentityError) -> Self {
        let message = e.to_string();
        match e {
            IdentityError::InvalidCredentials => AppError::Unauthorized {
                code: "AUTH_INVALID",
                message,
            },
            IdentityError::TotpRequired => AppError::Unauthorized {
                code: "TOTP_REQUIRED",
                message,
            },
            IdentityError::TotpReused => AppError::Unauthorized {
                code: "TOTP_REUSED",
                message,
            },
            IdentityError::Locked { .. } => AppError::TooManyRequests {
                code: "AUTH_LOCKED",
                message,
            },
            IdentityError::Unauthenticated => AppError::Unauthorized {
                code: "AUTH_REQUIRED",
                message,
            },
            IdentityError::SessionExpired => AppError::Unauthorized {
                code: "SESSION_EXPIRED",
                message,
            },
            IdentityError::Policy(_) => AppError::Unprocessable {
                code: "PASSWORD_POLICY",
                message,
            },
            IdentityError::InviteUnusable(_) => AppError::Gone {
                code: "INVITE_UNUSABLE",
                message,
            },
            IdentityError::Conflict(_) => AppError::Conflict {
                code: "CONFLICT",
                message,
            },
            IdentityError::Invalid(_) => AppError::Unprocessable {
                code: "VALIDATION",
                message,
            },
            IdentityError::OrgRequired(_) => AppError::Unprocessable {
                code: "ORG_REQUIRED",
                message,
            },
            IdentityError::Storage(d) => AppError::from(d),
            IdentityError::Internal(m) => AppError::Internal(m),
            IdentityError::Keys(k) => AppError::from(k),
        }
    }
}

/// A refused attempt is part of the trail: `access.denied` on the route pattern.
async fn audit_denial(
    state: &AppState,
    principal: &Principal,
    ip: &str,
    route: String,
) -> Result<(), AppError> {
    let pool = state.pool.clone();
    let now = state.clock.now();
    let event = crate::audit::Event {
        chain: principal.org_id.clone(),
        actor: principal.actor.clone(),
        action: "access.denied".into(),
        object_type: "route".into(),
        object_id: route,
        ip: ip.to_string(),
        request_id: current_request_id().unwrap_or_default(),
        outcome: "denied".into(),
    };
    web::block(move || -> Result<(), AppError> {
        let mut conn = pool.get()?;
        crate::audit::append(&mut conn, &event, now)?;
        Ok(())
    })
    .await?
}

/// Credential attempts (sign-in, accepting an invitation) per client address:
/// 429 `RATE_LIMITED` with the time to retry once the address used its allowance.
pub fn limit_attempts(
    state: &AppState,
    ip: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    state
        .login_limiter
        .check(ip, state.config.auth.ip_attempts_per_5min, now)
        .map_err(|retry_at| AppError::TooManyRequests {
            code: "RATE_LIMITED",
            message: format!(
                "too many sign-in attempts from this address; try again after {}",
                crate::domain::time::stamp(retry_at)
            ),
        })
}

/// The client address as seen by this server (no proxy headers are trusted).
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

impl<N: Need + 'static> FromRequest for Authed<N> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|v| v.trim().to_string());
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
        let csrf_sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let route = format!(
            "{} {}",
            req.method(),
            req.match_pattern()
                .unwrap_or_else(|| req.path().to_string())
        );
        let ip = client_ip(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal("no app state".into()))?;
            let pool = state.pool.clone();
            let cfg = state.config.auth.clone();
            let now = state.clock.now();
            let principal = web::block(move || -> Result<Principal, AppError> {
                let mut conn = pool.get()?;
                match (bearer, cookie) {
                    (Some(t), _) => Ok(identity::authenticate_token(&mut conn, &t, now)?),
                    (None, Some(c)) => {
                        Ok(identity::authenticate_session(&mut conn, &cfg, &c, now)?)
                    }
                    (None, None) => Err(IdentityError::Unauthenticated.into()),
                }
            })
            .await??;
            // Browsers send cookies on cross-site form posts; tokens they cannot send.
            if writes {
                if let Some(expected) = &principal.csrf {
                    if csrf_sent.as_deref() != Some(expected.as_str()) {
                        return Err(AppError::Forbidden {
                            code: "CSRF_MISSING",
                            message: format!("state-changing requests must send the {CSRF_HEADER} header from sign-in"),
                        });
                    }
                }
            }
            if principal.must_enroll_totp && N::PERMISSION != Permission::UseOwnAccount {
                return Err(AppError::Forbidden {
                    code: "TOTP_ENROLLMENT_REQUIRED",
                    message: "this organization requires a second factor: enrol at POST /api/v1/me/totp/setup first".into(),
                });
            }
            if !allows(principal.role, N::PERMISSION) {
                tracing::info!(actor = %principal.actor, role = %principal.role, request_id = ?current_request_id(), "permission denied");
                audit_denial(&state, &principal, &ip, route).await?;
                return Err(AppError::Forbidden {
                    code: "FORBIDDEN",
                    message: format!("the {} role may not do this", principal.role),
                });
            }
            Ok(Authed {
                principal,
                ip,
                _need: PhantomData,
            })
        })
    }
}
