//! Alert rules on analysis results, and their delivery. A rule fires at most once per
//! conversation (analysing it again fires nothing new). Alerts carry the rule, what
//! matched (a score, a label, a tracker's name) and a link to the conversation, never
//! its content; they go to Slack, a signed webhook or e-mail through the egress gate and are
//! retried with backoff, then marked failed, all visible in the alert history.

use super::egress::smtp::{Mail, Server};
use super::egress::{Gate, Request};
use super::open::open;
use super::webhook::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::audit::{self, Event};
use crate::domain::time::stamp;
use crate::keys::{KeyError, Keyring, OrgCipher};
use crate::store::alerts::{self, Alert, Rule};
use crate::store::identity::new_id;
use crate::store::{analyses, trackers, DbConn};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Tries before an alert is marked failed.
pub const MAX_ATTEMPTS: i32 = 5;

/// When a rule fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A scorecard score (0..=100) below the threshold.
    ScoreBelow { threshold: f64 },
    /// A scorecard question answered with no points (e.g. a compliance check).
    QuestionFailed { question_id: String },
    /// The overall sentiment is negative.
    NegativeSentiment,
    /// A tracker matched.
    TrackerHit { tracker_id: String },
}

impl Condition {
    pub fn parse(v: &Value) -> Result<Condition, String> {
        let c: Condition = serde_json::from_value(v.clone()).map_err(|e| {
            format!("condition: {e} (kinds: score_below {{threshold}}, question_failed {{question_id}}, negative_sentiment, tracker_hit {{tracker_id}})")
        })?;
        // Serde lets a field-less kind carry strays: every given field must be known.
        let known = serde_json::to_value(&c).unwrap_or_default();
        if let (Some(given), Some(known)) = (v.as_object(), known.as_object()) {
            if let Some(stray) = given.keys().find(|k| !known.contains_key(*k)) {
                return Err(format!(
                    "condition: unknown field '{stray}' for kind {}",
                    known["kind"]
                ));
            }
        }
        match &c {
            Condition::ScoreBelow { threshold } if !(0.0..=100.0).contains(threshold) => {
                Err("condition.threshold must be between 0 and 100".into())
            }
            Condition::QuestionFailed { question_id } if question_id.trim().is_empty() => {
                Err("condition.question_id must not be empty".into())
            }
            _ => Ok(c),
        }
    }
}

/// What a conversation's results say, for matching rules.
#[derive(Debug, Default)]
pub struct Facts {
    /// (template name or id, score)
    pub scores: Vec<(String, f64)>,
    /// question ids answered with no points
    pub failed: Vec<String>,
    /// overall sentiment (label, score)
    pub sentiment: Option<(String, f64)>,
    /// (tracker id, tracker name)
    pub trackers: Vec<(String, String)>,
}

impl Facts {
    pub fn load(
        conn: &mut DbConn,
        cipher: &OrgCipher,
        conversation_id: &str,
    ) -> Result<Facts, KeyError> {
        let mut facts = Facts::default();
        for r in analyses::results_of(conn, cipher, conversation_id)? {
            if let Some(s) = r.score {
                facts.scores.push((r.template_id.clone(), s));
            }
            let answers: Vec<Value> = serde_json::from_str(&r.answers).unwrap_or_default();
            for a in answers {
                if a.get("score").and_then(Value::as_f64) == Some(0.0) {
                    if let Some(q) = a.get("question_id").and_then(Value::as_str) {
                        facts.failed.push(q.to_string());
                    }
                }
            }
        }
        if let Some(a) = analyses::analysis_of(conn, cipher, conversation_id)? {
            let result: Value = a
                .result
                .and_then(|r| serde_json::from_str(&r).ok())
                .unwrap_or_default();
            let overall = &result["sentiment"]["overall"];
            if let (Some(l), Some(s)) = (overall["label"].as_str(), overall["score"].as_f64()) {
                facts.sentiment = Some((l.to_string(), s));
            }
        }
        let names: Vec<(String, String)> = trackers::list(conn, &cipher.org_id)?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        for hit in trackers::hits_of(conn, cipher, conversation_id)? {
            if !facts.trackers.iter().any(|(id, _)| *id == hit.tracker_id) {
                let name = names
                    .iter()
                    .find(|(id, _)| *id == hit.tracker_id)
                    .map_or(hit.tracker_id.clone(), |(_, n)| n.clone());
                facts.trackers.push((hit.tracker_id, name));
            }
        }
        Ok(facts)
    }

    /// What matched the condition, in words; None when it does not fire.
    pub fn matches(&self, c: &Condition) -> Option<String> {
        match c {
            Condition::ScoreBelow { threshold } => self
                .scores
                .iter()
                .find(|(_, s)| s < threshold)
                .map(|(t, s)| format!("scorecard {t} scored {s:.1}, below {threshold}")),
            Condition::QuestionFailed { question_id } => self
                .failed
                .contains(question_id)
                .then(|| format!("question {question_id} failed")),
            Condition::NegativeSentiment => self
                .sentiment
                .as_ref()
                .filter(|(l, _)| l == "negative")
                .map(|(_, s)| format!("overall sentiment negative ({s:.2})")),
            Condition::TrackerHit { tracker_id } => self
                .trackers
                .iter()
                .find(|(id, _)| id == tracker_id)
                .map(|(_, name)| format!("tracker '{name}' matched")),
        }
    }
}

/// Checks the org's rules against a processed conversation; records each new alert.
pub fn evaluate(
    conn: &mut DbConn,
    keyring: &Keyring,
    org_id: &str,
    conversation_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, KeyError> {
    let rules = alerts::rules_of(conn, org_id)?;
    if rules.is_empty() {
        return Ok(0);
    }
    let cipher = keyring.for_org(conn, org_id)?;
    let facts = Facts::load(conn, &cipher, conversation_id)?;
    let mut fired = 0;
    for rule in rules {
        let Ok(condition) = serde_json::from_str::<Value>(&rule.condition)
            .map_err(|e| e.to_string())
            .and_then(|v| Condition::parse(&v))
        else {
            continue;
        };
        let Some(detail) = facts.matches(&condition) else {
            continue;
        };
        let alert = Alert {
            id: new_id(),
            org_id: org_id.to_string(),
            rule_id: rule.id.clone(),
            conversation_id: conversation_id.to_string(),
            detail,
            state: "pending".into(),
            attempts: 0,
            last_error: None,
            created_at: stamp(now),
            next_attempt_at: stamp(now),
            sent_at: None,
        };
        if alerts::fire(conn, &alert)? {
            fired += 1;
        }
    }
    Ok(fired)
}

/// Sends the alerts that are due; returns how many were tried.
pub fn deliver_due(
    conn: &mut DbConn,
    keyring: &Keyring,
    gate: &Gate,
    base_url: &str,
    now: DateTime<Utc>,
) -> usize {
    let due = match alerts::due(conn, &stamp(now), 20) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read due alerts");
            return 0;
        }
    };
    let mut tried = 0;
    for alert in &due {
        let until = stamp(now + chrono::Duration::minutes(5));
        if !alerts::claim(conn, &alert.id, &stamp(now), &until).unwrap_or(false) {
            continue;
        }
        tried += 1;
        let outcome = send(conn, keyring, gate, base_url, alert, now);
        let error = outcome.as_ref().err().map(String::as_str);
        let next = (alert.attempts + 1 < MAX_ATTEMPTS)
            .then(|| stamp(now + chrono::Duration::seconds(30 << alert.attempts.min(8))));
        let _ = alerts::attempted(conn, &alert.id, error, next.as_deref(), &stamp(now));
        let _ = audit::append(
            conn,
            &Event::by_system(
                &alert.org_id,
                "alerts",
                "alert.send",
                ("alert", &alert.id),
                if error.is_none() {
                    "success"
                } else {
                    "failure"
                },
            ),
            now,
        );
    }
    tried
}

/// The message of an alert, as Slack shows it.
fn text_of(rule: &Rule, alert: &Alert, link: &str) -> String {
    format!(
        "insite alert \u{201c}{}\u{201d}: {}. Conversation: {link}",
        rule.name, alert.detail
    )
}

fn send(
    conn: &mut DbConn,
    keyring: &Keyring,
    gate: &Gate,
    base_url: &str,
    alert: &Alert,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let rule = alerts::rule(conn, &alert.org_id, &alert.rule_id)
        .map_err(|e| e.to_string())?
        .ok_or("the rule was removed")?;
    let cipher = keyring
        .for_org(conn, &alert.org_id)
        .map_err(|e| e.to_string())?;
    let target = open(conn, &cipher, &rule.integration_id)
        .map_err(|e| e.to_string())?
        .ok_or("the rule's integration was removed")?;
    let link = format!("{base_url}/console/conversations/{}", alert.conversation_id);
    let message = json!({
        "alert_id": alert.id,
        "rule": rule.name,
        "detail": alert.detail,
        "conversation_id": alert.conversation_id,
        "conversation_url": link,
        "fired_at": alert.created_at,
    });
    deliver(gate, &target, &message, &text_of(&rule, alert, &link), now)
}

/// The server, sender and recipients of an SMTP target.
pub fn smtp_of(target: &super::open::Opened) -> Result<(Server, String, Vec<String>), String> {
    let server = Server {
        host: target
            .setting("host")
            .ok_or("no settings.host")?
            .to_string(),
        port: super::kinds::smtp_port(&target.settings).ok_or("bad settings.port")?,
        username: target
            .secret("username")
            .ok_or("no credentials.username")?
            .to_string(),
        password: target
            .secret("password")
            .ok_or("no credentials.password")?
            .to_string(),
    };
    let from = target
        .setting("from")
        .ok_or("no settings.from")?
        .to_string();
    Ok((
        server,
        from,
        super::kinds::smtp_recipients(&target.settings),
    ))
}

/// Posts a message to a Slack or webhook integration, or mails it (also the "test connection").
pub fn deliver(
    gate: &Gate,
    target: &super::open::Opened,
    message: &Value,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let req = match target.row.kind.as_str() {
        "slack" => {
            let url = target
                .secret("webhook_url")
                .ok_or("no credentials.webhook_url")?;
            let url = url::Url::parse(url).map_err(|e| e.to_string())?;
            Request::post(
                url,
                "application/json",
                json!({ "text": text }).to_string().into_bytes(),
            )
        }
        "alert_webhook" => {
            let url = target.setting("url").ok_or("no settings.url")?;
            let url = url::Url::parse(url).map_err(|e| e.to_string())?;
            let secret = target.secret("secret").ok_or("no credentials.secret")?;
            let body = message.to_string().into_bytes();
            let ts = now.timestamp();
            let sig = sign(secret, ts, &body);
            Request::post(url, "application/json", body)
                .header(TIMESTAMP_HEADER, &ts.to_string())
                .header(SIGNATURE_HEADER, &sig)
        }
        "smtp" => {
            let (server, from, to) = smtp_of(target)?;
            let subject = match message.get("rule").and_then(Value::as_str) {
                Some(rule) => format!("insite alert: {rule}"),
                None => "insite: test message".to_string(),
            };
            let mail = Mail {
                from,
                to,
                subject,
                text: text.to_string(),
            };
            return gate
                .send_mail(&target.caller, &server, Some(&mail))
                .map_err(|e| e.to_string());
        }
        other => return Err(format!("a {other} integration cannot receive alerts")),
    };
    let res = gate.send(&target.caller, req).map_err(|e| e.to_string())?;
    if res.ok() {
        Ok(())
    } else {
        Err(format!("the receiver answered HTTP {}", res.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_match() {
        let facts = Facts {
            scores: vec![("sales".into(), 42.0)],
            failed: vec!["disclosure".into()],
            sentiment: Some(("negative".into(), -0.6)),
            trackers: vec![("t1".into(), "Cancellation".into())],
        };
        let c = |v: Value| Condition::parse(&v).unwrap();
        assert!(facts
            .matches(&c(json!({"kind": "score_below", "threshold": 60})))
            .is_some());
        assert!(facts
            .matches(&c(json!({"kind": "score_below", "threshold": 40})))
            .is_none());
        assert!(facts
            .matches(&c(
                json!({"kind": "question_failed", "question_id": "disclosure"})
            ))
            .is_some());
        assert!(facts
            .matches(&c(
                json!({"kind": "question_failed", "question_id": "greeting"})
            ))
            .is_none());
        assert!(facts
            .matches(&c(json!({"kind": "negative_sentiment"})))
            .is_some());
        assert_eq!(
            facts
                .matches(&c(json!({"kind": "tracker_hit", "tracker_id": "t1"})))
                .as_deref(),
            Some("tracker 'Cancellation' matched")
        );
        assert!(facts
            .matches(&c(json!({"kind": "tracker_hit", "tracker_id": "t2"})))
            .is_none());
        assert!(Condition::parse(&json!({"kind": "score_below", "threshold": 101})).is_err());
        assert!(Condition::parse(&json!({"kind": "weather"})).is_err());
        assert!(Condition::parse(&json!({"kind": "negative_sentiment", "x": 1})).is_err());
        assert!(Facts::default()
            .matches(&c(json!({"kind": "negative_sentiment"})))
            .is_none());
    }
}
