//! Pure rules: roles and permissions, password policy, time formats. No I/O here.

pub mod email;
pub mod metrics;
pub mod password_policy;
pub mod roles;
pub mod search;
pub mod time;
pub mod trackers;
