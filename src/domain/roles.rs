//! Roles and the permission matrix: who may do what inside one organization.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A member's role in one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Reviewer,
    Agent,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Admin,
        Role::Manager,
        Role::Reviewer,
        Role::Agent,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Reviewer => "reviewer",
            Role::Agent => "agent",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role '{s}' (one of: owner, admin, manager, reviewer, agent, auditor)"
                )
            })
    }
}

/// Something a request may want to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Own account: profile, password, sessions.
    UseOwnAccount,
    /// Conversations of every agent in the org.
    ReadAllConversations,
    /// Only conversations where the member is the agent.
    ReadOwnConversations,
    /// Upload recordings and tickets; see and steer processing jobs.
    Ingest,
    /// Review, override and resolve scores.
    ReviewScores,
    /// Read and export the audit log.
    ReadAudit,
    /// Handle data-subject requests (access, export, erasure).
    HandleSubjectRequests,
    /// Invite, change roles, deactivate; API tokens.
    ManageUsers,
    /// Integrations, retention, modalities, keys.
    ManageSettings,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::UseOwnAccount,
        Permission::ReadAllConversations,
        Permission::ReadOwnConversations,
        Permission::Ingest,
        Permission::ReviewScores,
        Permission::ReadAudit,
        Permission::HandleSubjectRequests,
        Permission::ManageUsers,
        Permission::ManageSettings,
    ];
}

/// The permission matrix (documented in the README). Auditors do not read
/// conversation content; agents see only their own conversations.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    use Role as R;
    match permission {
        P::UseOwnAccount => true,
        // Roles decide, not a conversation's agent field: an auditor named as the agent
        // of a call still reads no conversations.
        P::ReadOwnConversations => !matches!(role, R::Auditor),
        P::ReadAllConversations => matches!(role, R::Owner | R::Admin | R::Manager | R::Reviewer),
        P::Ingest => matches!(role, R::Owner | R::Admin | R::Manager),
        P::ReviewScores => matches!(role, R::Owner | R::Admin | R::Manager | R::Reviewer),
        P::ReadAudit | P::HandleSubjectRequests => matches!(role, R::Owner | R::Admin | R::Auditor),
        P::ManageUsers | P::ManageSettings => matches!(role, R::Owner | R::Admin),
    }
}

/// Whether `granter` may give `target` to someone: only an owner makes owners.
pub fn may_grant(granter: Role, target: Role) -> bool {
    allows(granter, Permission::ManageUsers) && (target != Role::Owner || granter == Role::Owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_matches_the_promises() {
        assert!(!allows(Role::Agent, Permission::ReadAllConversations));
        assert!(allows(Role::Agent, Permission::ReadOwnConversations));
        assert!(!allows(Role::Auditor, Permission::ReadAllConversations));
        assert!(!allows(Role::Auditor, Permission::ReadOwnConversations));
        assert!(allows(Role::Auditor, Permission::ReadAudit));
        assert!(allows(Role::Auditor, Permission::HandleSubjectRequests));
        for r in Role::ALL {
            let manages = allows(r, Permission::ManageUsers);
            assert_eq!(manages, matches!(r, Role::Owner | Role::Admin), "{r}");
            assert_eq!(allows(r, Permission::ManageSettings), manages, "{r}");
        }
        assert!(!may_grant(Role::Admin, Role::Owner));
        assert!(may_grant(Role::Owner, Role::Owner));
        assert_eq!("auditor".parse::<Role>(), Ok(Role::Auditor));
        assert!("root".parse::<Role>().is_err());
    }
}
