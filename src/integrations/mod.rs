//! Integrations: connectors that fetch conversations from the customer's tools
//! (Zendesk, S3 and SFTP recording stores, webhooks from call recorders) and alerts that tell people about results
//! (Slack, signed webhooks, e-mail). Every outbound call goes through
//! [`egress::Gate`]: the one place in insite that opens a connection to another
//! machine.

pub mod alerts;
pub mod egress;
pub mod health;
pub mod kinds;
pub mod open;
pub mod storage;
pub mod sync;
pub mod webhook;
pub mod zendesk;
