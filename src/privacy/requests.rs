//! Carrying out a data subject's request on everything stored about them:
//! rectification (their fields corrected wherever they appear), erasure (their
//! conversations deleted, or their traces redacted from shared ones, and their key
//! destroyed), and restriction / AI opt-out. Each answers what it did, as JSON.

use super::subjects::{normal_name, sealed, tags, view, Person};
use crate::blob::BlobStore;
use crate::domain::search;
use crate::domain::time::stamp;
use crate::keys::{KeyError, Keyring, OrgCipher};
use crate::store::retention::Held;
use crate::store::{analyses, blind_index, conversations, subjects, DbConn};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Why a request could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Held(String),
    #[error("no such data subject")]
    NotFound,
    #[error("storage: {0}")]
    Storage(#[from] diesel::result::Error),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("blob store: {0}")]
    Blob(#[from] std::io::Error),
}

impl From<crate::crypto::aead::IntegrityError> for RequestError {
    fn from(e: crate::crypto::aead::IntegrityError) -> Self {
        RequestError::Keys(e.into())
    }
}

/// What a request acts with.
pub struct Ctx<'a> {
    pub keyring: &'a Keyring,
    pub blobs: &'a BlobStore,
    pub cipher: &'a OrgCipher,
    pub now: DateTime<Utc>,
}

/// How an erasure treats the conversations where the subject is the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EraseMode {
    /// Delete them (recordings included); redact the subject from the others.
    Delete,
    /// Keep every conversation; redact the subject from each.
    Redact,
}

/// Replaces every occurrence of the needles (case-insensitive, whole text) by
/// `with`; answers the new text when anything changed.
fn replace_all(text: &str, needles: &[String], with: &str) -> Option<String> {
    let mut out = text.to_string();
    for n in needles.iter().filter(|n| n.chars().count() >= 2) {
        let re = regex::RegexBuilder::new(&regex::escape(n))
            .case_insensitive(true)
            .build()
            .ok()?;
        out = re.replace_all(&out, with).into_owned();
    }
    (out != text).then_some(out)
}

/// Whether a participant in metadata is this person.
fn same_person(p: &Value, who: &Person) -> bool {
    let eq = |field: &str, mine: &Option<String>, norm: fn(&str) -> Option<String>| match (
        p[field].as_str().and_then(norm),
        mine.as_deref().and_then(norm),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    eq("email", &who.email, search::email)
        || eq("phone", &who.phone, search::phone)
        || eq("name", &who.name, |s| {
            Some(normal_name(s)).filter(|n| !n.is_empty())
        })
}

/// Rewrites a person's traces in one conversation: participants in its metadata,
/// its segments, a ticket's stored body, and its blind-index tags. `to` is the new
/// person (rectification) or `None` (erasure). Answers how many values changed.
fn rewrite_in(
    conn: &mut DbConn,
    ctx: &Ctx,
    conversation_id: &str,
    from: &Person,
    to: Option<&Person>,
) -> Result<usize, RequestError> {
    let cipher = ctx.cipher;
    let Some(conv) = conversations::get(conn, cipher, conversation_id)? else {
        return Ok(0);
    };
    let mut changed = 0;
    let mut meta: Value = serde_json::from_str(&conv.metadata).unwrap_or_default();
    if let Some(people) = meta["participants"].as_array_mut() {
        for p in people.iter_mut().filter(|p| same_person(p, from)) {
            for (field, new) in [
                ("name", to.and_then(|t| t.name.clone())),
                ("email", to.and_then(|t| t.email.clone())),
                ("phone", to.and_then(|t| t.phone.clone())),
            ] {
                if !p[field].is_null() || new.is_some() {
                    p[field] = new.map_or(Value::Null, Value::String);
                }
            }
            if to.is_none() {
                p["erased"] = json!(true);
            }
            changed += 1;
        }
    }
    // Old tags go; the new metadata's tags are added when it is stored.
    let mut old_tags: BTreeSet<String> = tags(cipher, from).into_iter().collect();
    if let Some(n) = &from.name {
        old_tags.extend(search::terms(n).iter().map(|t| cipher.blind("term", t)));
    }
    blind_index::remove(conn, &cipher.org_id, conversation_id, &old_tags)?;
    if changed > 0 {
        conversations::set_metadata(conn, cipher, conversation_id, &meta.to_string())?;
    }
    let replacement = |field: usize| -> String {
        to.and_then(|t| [&t.name, &t.email, &t.phone][field].clone())
            .unwrap_or_else(|| "[ERASED]".into())
    };
    for s in conversations::segments_of(conn, cipher, conversation_id)? {
        let mut text = s.text.clone();
        for (i, needle) in [&from.name, &from.email, &from.phone]
            .into_iter()
            .enumerate()
        {
            if let Some(n) = needle {
                if let Some(t) = replace_all(&text, std::slice::from_ref(n), &replacement(i)) {
                    text = t;
                }
            }
        }
        if text != s.text {
            conversations::set_segment_text(conn, cipher, &s.id, &text)?;
            changed += 1;
        }
    }
    if conv.kind == "ticket" {
        if let Ok(body) = ctx.blobs.read_all(cipher, conversation_id) {
            let text = String::from_utf8_lossy(&body).to_string();
            let mut new = text.clone();
            for (i, needle) in [&from.name, &from.email, &from.phone]
                .into_iter()
                .enumerate()
            {
                if let Some(n) = needle {
                    let with = serde_json::to_string(&replacement(i)).unwrap_or_default();
                    let with = with.trim_matches('"');
                    if let Some(t) = replace_all(&new, std::slice::from_ref(n), with) {
                        new = t;
                    }
                }
            }
            if new != text {
                let mut blob = ctx.blobs.incoming(cipher, conversation_id)?;
                std::io::Write::write_all(&mut blob, new.as_bytes())?;
                ctx.blobs.keep(blob.finish()?, &cipher.org_id)?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// Corrects a subject's fields, in their record and everywhere they appear.
pub fn rectify(
    conn: &mut DbConn,
    ctx: &Ctx,
    subject_id: &str,
    corrections: &Person,
) -> Result<Value, RequestError> {
    let org = ctx.cipher.org_id.clone();
    if corrections.is_empty() {
        return Err(RequestError::Invalid(
            "corrections must give at least one of name, email, phone".into(),
        ));
    }
    if let Some(e) = &corrections.email {
        search::email(e)
            .ok_or_else(|| RequestError::Invalid(format!("'{e}' is not an e-mail address")))?;
    }
    if let Some(p) = &corrections.phone {
        search::phone(p)
            .ok_or_else(|| RequestError::Invalid(format!("'{p}' is not a phone number")))?;
    }
    let row = subjects::get(conn, &org, subject_id)?.ok_or(RequestError::NotFound)?;
    if row.erased_at.is_some() {
        return Err(RequestError::Invalid("the subject was erased".into()));
    }
    let before = view(conn, ctx.keyring, row)?.person;
    let after = Person {
        name: corrections.name.clone().or(before.name.clone()),
        email: corrections.email.clone().or(before.email.clone()),
        phone: corrections.phone.clone().or(before.phone.clone()),
    };
    // Only the corrected fields are looked for and replaced.
    let from = Person {
        name: corrections.name.as_ref().and(before.name.clone()),
        email: corrections.email.as_ref().and(before.email.clone()),
        phone: corrections.phone.as_ref().and(before.phone.clone()),
    };
    let to = Person {
        name: from.name.as_ref().and(after.name.clone()),
        email: from.email.as_ref().and(after.email.clone()),
        phone: from.phone.as_ref().and(after.phone.clone()),
    };
    let key = ctx.keyring.subject(conn, &org, subject_id)?;
    subjects::set_fields(conn, &org, subject_id, sealed(&key, &after)?)?;
    subjects::set_tags(conn, &org, subject_id, &tags(ctx.cipher, &after))?;
    let mut updated = Vec::new();
    for (conv, _) in subjects::links_of(conn, &org, subject_id)? {
        if rewrite_in(conn, ctx, &conv, &from, Some(&to))? > 0 {
            updated.push(conv);
        }
    }
    let fields: Vec<&str> = [
        ("name", &corrections.name),
        ("email", &corrections.email),
        ("phone", &corrections.phone),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(k, _)| k)
    .collect();
    Ok(json!({"fields_corrected": fields, "conversations_updated": updated}))
}

/// Erases a subject: conversations deleted or redacted (per `mode`), earlier export
/// archives removed, personal fields and tags dropped, and the subject's key
/// destroyed. Held conversations are kept and named in the result.
pub fn erase(
    conn: &mut DbConn,
    ctx: &Ctx,
    subject_id: &str,
    mode: EraseMode,
    held: &Held,
) -> Result<Value, RequestError> {
    let org = ctx.cipher.org_id.clone();
    if held.org || held.subjects.contains(subject_id) {
        return Err(RequestError::Held(
            "a legal hold covers this subject (or the whole organization): release it before erasing".into(),
        ));
    }
    let row = subjects::get(conn, &org, subject_id)?.ok_or(RequestError::NotFound)?;
    if row.erased_at.is_some() {
        return Err(RequestError::Invalid(
            "the subject was already erased".into(),
        ));
    }
    let person = view(conn, ctx.keyring, row)?.person;
    let (mut deleted, mut redacted, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    let mut blobs_removed = 0;
    for (conv, role) in subjects::links_of(conn, &org, subject_id)? {
        if held.conversations.contains(&conv) {
            kept.push(conv);
        } else if mode == EraseMode::Delete && role == "customer" {
            ctx.blobs.remove(&org, &conv)?;
            blobs_removed += 1;
            crate::store::retention::delete_conversation(conn, &org, &conv)?;
            deleted.push(conv);
        } else {
            rewrite_in(conn, ctx, &conv, &person, None)?;
            subjects::unlink(conn, &org, subject_id, &conv)?;
            redacted.push(conv);
        }
    }
    let mut archives = 0;
    for r in subjects::requests(conn, &org, Some(subject_id))? {
        if matches!(r.kind.as_str(), "access" | "export") {
            ctx.blobs.remove(&org, &r.id)?;
            archives += 1;
        }
    }
    let now = stamp(ctx.now);
    let key_destroyed = ctx
        .keyring
        .destroy_subject_key(conn, &org, subject_id, &now)?;
    subjects::mark_erased(conn, &org, subject_id, &now)?;
    Ok(json!({
        "mode": mode,
        "conversations_deleted": deleted,
        "conversations_redacted": redacted,
        "conversations_kept_under_legal_hold": kept,
        "recordings_and_ticket_bodies_removed": blobs_removed,
        "export_archives_removed": archives,
        "personal_fields_removed": ["name", "email", "phone"],
        "subject_key_destroyed": key_destroyed,
    }))
}

/// Restriction or AI opt-out: nothing about the subject goes to the LLM from now
/// on; with `remove_ai_results`, what the LLM produced about their conversations
/// goes too.
pub fn restrict(
    conn: &mut DbConn,
    ctx: &Ctx,
    subject_id: &str,
    restriction: bool,
    remove_ai_results: bool,
) -> Result<Value, RequestError> {
    let org = ctx.cipher.org_id.clone();
    let row = subjects::get(conn, &org, subject_id)?.ok_or(RequestError::NotFound)?;
    subjects::set_flags(conn, &org, subject_id, true, row.restricted || restriction)?;
    let (mut runs, mut results) = (0, 0);
    if remove_ai_results {
        for (conv, _) in subjects::links_of(conn, &org, subject_id)? {
            let (a, r) = analyses::delete_ai(conn, &org, &conv)?;
            runs += a;
            results += r;
        }
    }
    Ok(json!({
        "ai_opt_out": true,
        "restricted": row.restricted || restriction,
        "analyses_removed": runs,
        "scorecard_results_removed": results,
    }))
}
