//! Pure rules: roles and permissions, password policy, time formats. No I/O here.

pub mod agreement;
pub mod analysis;
pub mod coaching;
pub mod dashboard;
pub mod email;
pub mod eval;
pub mod evidence;
pub mod insight;
pub mod metrics;
pub mod names;
pub mod password_policy;
pub mod retention;
pub mod review;
pub mod roles;
pub mod scorecard;
pub mod search;
pub mod sentences;
pub mod time;
pub mod trackers;
