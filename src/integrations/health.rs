//! Connector health as people see it, and "test connection".

use super::alerts;
use super::egress::Gate;
use super::kinds::NOT_YET;
use super::open::Opened;
use super::storage;
use super::zendesk::Zendesk;
use crate::store::integration_state::State;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The health of an integration: `ok`, `error`, `syncing`, `never_run`, `unsupported`.
pub fn view(kind: &str, state: Option<&State>, now: &str) -> Value {
    if NOT_YET.contains(&kind) {
        return json!({"state": "unsupported",
            "message": format!("insite {} has no {kind} connector yet: this integration is stored but not used", env!("CARGO_PKG_VERSION"))});
    }
    let Some(s) = state else {
        return json!({"state": "never_run", "items_fetched": 0});
    };
    let syncing = s.lease_until.as_deref().is_some_and(|l| l > now);
    let failing = match (&s.last_error_at, &s.last_success_at) {
        (Some(e), Some(ok)) => s.last_error.is_some() && e >= ok,
        (Some(_), None) => s.last_error.is_some(),
        _ => false,
    };
    let label = if syncing {
        "syncing"
    } else if failing {
        "error"
    } else if s.last_success_at.is_some() {
        "ok"
    } else {
        "never_run"
    };
    json!({
        "state": label,
        "items_fetched": s.items_fetched,
        "last_run_at": s.last_run_at,
        "last_success_at": s.last_success_at,
        "last_error": s.last_error,
        "last_error_at": s.last_error_at,
    })
}

/// Tries the integration for real: Zendesk signs in; S3 and SFTP list the store; Slack and alert webhooks get a
/// test message; a webhook receiver has nothing to call and says where to send.
pub fn test_connection(
    gate: &Gate,
    target: &Opened,
    receiver_url: &str,
    now: DateTime<Utc>,
) -> Result<String, String> {
    match target.row.kind.as_str() {
        "zendesk" => Zendesk::new(gate, target)?.test(),
        "s3" | "sftp" => storage::test(gate, target),
        "smtp" => {
            let (server, _, _) = alerts::smtp_of(target)?;
            gate.send_mail(&target.caller, &server, None)
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "signed in to {}:{} over STARTTLS as {}",
                server.host, server.port, server.username
            ))
        }
        "slack" | "alert_webhook" => {
            let message = json!({"test": true, "integration": target.row.name});
            alerts::deliver(
                gate,
                target,
                &message,
                "insite: test message (the connection works)",
                now,
            )?;
            Ok("a test message was delivered".into())
        }
        "webhook" => Ok(format!(
            "ready to receive: senders POST signed notifications to {receiver_url}"
        )),
        other => Err(format!("insite has no {other} connector yet")),
    }
}
