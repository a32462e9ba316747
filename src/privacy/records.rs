//! The records of processing activities (GDPR Article 30) of one org, generated from
//! its live configuration: what data, why, how long, who receives it, how it is
//! protected. Nothing here is typed by hand per customer.

use crate::config::Config;
use crate::domain::analysis::Settings;
use crate::domain::retention::{Class, Policy};
use crate::store::identity::Org;
use serde_json::{json, Value};

fn period(days: Option<u32>) -> String {
    match days {
        Some(d) => format!("{d} days"),
        None => "while the organization is active".into(),
    }
}

/// The report. `integrations` are (kind, name) of the org's connectors.
pub fn report(org: &Org, integrations: &[(String, String)], config: &Config, now: &str) -> Value {
    let policy = Policy::from_stored(&org.retention);
    let analysis = Settings::from_stored(&org.analysis);
    let raw = if policy.delete_raw_after_processing {
        "deleted as soon as processed".to_string()
    } else {
        period(policy.days(Class::Raw))
    };
    let tls = if config.tls.cert.is_some() {
        "TLS 1.2+ (rustls) on the console and API, with the organization's certificate"
    } else {
        "TLS 1.2+ (rustls) on the console and API, with a certificate generated on the appliance"
    };
    json!({
        "title": "Records of processing activities (GDPR Article 30)",
        "generated_at": now,
        "controller": {"organization": org.name, "organization_id": org.id},
        "processing": {
            "name": "Conversation intelligence on calls and support tickets",
            "purposes": [
                "quality assurance and coaching of agents (scorecards, reviews)",
                "understanding customer needs (summaries, sentiment, topics, trackers)",
                "answering data-subject requests and keeping an audit trail",
            ],
            "legal_basis": "to be stated by the controller (typically legitimate interests, Art. 6(1)(f))",
        },
        "data_subjects": ["customers", "prospects", "agents (employees)"],
        "data_categories": [
            {"category": "call recordings (raw audio)", "retention": raw},
            {"category": "transcripts, ticket bodies and participant details (name, e-mail, phone)",
             "retention": period(policy.days(Class::Transcripts))},
            {"category": "processed data: analyses, scores, metrics, tracker hits",
             "retention": period(policy.days(Class::Processed))},
            {"category": "audit log of every access to customer data",
             "retention": period(policy.days(Class::Audit))},
        ],
        "automated_processing": {
            "ai_analysis": analysis.text && analysis.any(),
            "where": "on this appliance only: local Whisper and LLM models; no data is sent to any AI provider",
            "models": [config.engines.whisper_model, config.engines.llm_model],
            "opt_out": "per data subject (AI opt-out or restriction request): their conversations are not sent to the LLM",
        },
        "recipients": {
            "outside_the_premises": "none: no customer data leaves the appliance",
            "configured_integrations": integrations.iter().map(|(k, n)| json!({"kind": k, "name": n})).collect::<Vec<_>>(),
        },
        "transfers_to_third_countries": "none",
        "security_measures": [
            "encryption at rest: AES-256-GCM with a data key per organization wrapped under a master key; a key per data subject for their personal fields",
            "search over encrypted data through blind indexes (HMAC-SHA256)",
            tls,
            "passwords hashed with argon2id; TOTP second factor; login rate limits",
            "role-based access (owner, admin, manager, reviewer, agent, auditor) scoped to the organization",
            "tamper-evident audit log (SHA-256 hash chain) of every read and change of customer data",
            "legal holds; retention enforced by an audited purge",
            "PII and payment data redacted from transcripts (and optionally from audio) before storage",
        ],
        "data_subject_rights": ["access", "export", "rectification", "erasure (with crypto-shredding)", "restriction", "AI opt-out"],
    })
}
