//! Who a participant is: found by the blind-index tags of their e-mail, phone or
//! name, or created with their own key; and linked to the conversation.

use crate::domain::search;
use crate::domain::time::stamp;
use crate::keys::{KeyError, Keyring, OrgCipher, SubjectCipher};
use crate::pipeline::ingest::Participant;
use crate::store::identity::new_id;
use crate::store::subjects::{self, SubjectRow};
use crate::store::DbConn;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A subject's personal fields in clear.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl Person {
    pub fn of(p: &Participant) -> Self {
        let clean = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Person {
            name: clean(&p.name),
            email: clean(&p.email),
            phone: clean(&p.phone),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.phone.is_none()
    }
}

/// A name as compared: lower case, single spaces.
pub fn normal_name(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tags a person is found by, strongest first: e-mail, phone, name.
pub fn tags(cipher: &OrgCipher, p: &Person) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = p.email.as_deref().and_then(search::email) {
        out.push(cipher.blind("email", &e));
    }
    if let Some(n) = p.phone.as_deref().and_then(search::phone) {
        out.push(cipher.blind("phone", &n));
    }
    if let Some(n) = p.name.as_deref().map(normal_name).filter(|n| !n.is_empty()) {
        out.push(cipher.blind("name", &n));
    }
    out
}

/// A subject as shown: personal fields opened with the subject's key (none once
/// erased).
#[derive(Debug, Clone, Serialize)]
pub struct SubjectView {
    pub id: String,
    pub kind: String,
    #[serde(flatten)]
    pub person: Person,
    pub ai_opt_out: bool,
    pub restricted: bool,
    pub created_at: String,
    pub erased_at: Option<String>,
}

pub fn view(
    conn: &mut DbConn,
    keyring: &Keyring,
    row: SubjectRow,
) -> Result<SubjectView, KeyError> {
    let person = if row.erased_at.is_some() {
        Person::default()
    } else {
        let key = keyring.subject(conn, &row.org_id, &row.id)?;
        let open = |v: &Option<String>, col: &str| -> Result<Option<String>, KeyError> {
            Ok(v.as_deref().map(|s| key.open(col, s)).transpose()?)
        };
        Person {
            name: open(&row.name, "name")?,
            email: open(&row.email, "email")?,
            phone: open(&row.phone, "phone")?,
        }
    };
    Ok(SubjectView {
        id: row.id,
        kind: row.kind,
        person,
        ai_opt_out: row.ai_opt_out,
        restricted: row.restricted,
        created_at: row.created_at,
        erased_at: row.erased_at,
    })
}

/// Seals a person's fields under the subject's key.
pub fn sealed(key: &SubjectCipher, p: &Person) -> Result<subjects::SealedFields, KeyError> {
    let seal = |v: &Option<String>, col: &str| v.as_deref().map(|s| key.seal(col, s)).transpose();
    Ok((
        seal(&p.name, "name")?,
        seal(&p.email, "email")?,
        seal(&p.phone, "phone")?,
    ))
}

/// The subject kind and the conversation role of a participant's role.
fn kind_and_role(role: Option<&str>) -> (&'static str, &'static str) {
    match role.map(str::to_ascii_lowercase).as_deref() {
        Some("agent") => ("agent", "agent"),
        Some("prospect") => ("prospect", "customer"),
        Some("customer") | None => ("customer", "customer"),
        Some(_) => ("customer", "participant"),
    }
}

/// Finds or creates the subject of each participant and links them to the
/// conversation; a participant who opted out makes their subject opted out.
pub fn link_participants(
    conn: &mut DbConn,
    keyring: &Keyring,
    cipher: &OrgCipher,
    conversation_id: &str,
    participants: &[Participant],
    now: DateTime<Utc>,
) -> Result<Vec<String>, KeyError> {
    let org = cipher.org_id.clone();
    let mut ids = Vec::new();
    for p in participants {
        let person = Person::of(p);
        if person.is_empty() {
            continue;
        }
        let (kind, role) = kind_and_role(p.role.as_deref());
        let tags = tags(cipher, &person);
        let found = tags.iter().find_map(|t| {
            subjects::find_by_tags(conn, &org, std::slice::from_ref(t))
                .ok()
                .and_then(|v| v.into_iter().next())
        });
        let id = match found {
            Some(s) => {
                if p.ai_opt_out && !s.ai_opt_out {
                    subjects::set_flags(conn, &org, &s.id, true, s.restricted)?;
                }
                s.id
            }
            None => {
                let id = new_id();
                let key = keyring.new_subject_key(conn, &org, &id, &stamp(now))?;
                let (name, email, phone) = sealed(&key, &person)?;
                subjects::insert(
                    conn,
                    &SubjectRow {
                        id: id.clone(),
                        org_id: org.clone(),
                        kind: kind.into(),
                        name,
                        email,
                        phone,
                        ai_opt_out: p.ai_opt_out,
                        restricted: false,
                        created_at: stamp(now),
                        erased_at: None,
                    },
                )?;
                subjects::set_tags(conn, &org, &id, &tags)?;
                id
            }
        };
        subjects::link(conn, &org, &id, conversation_id, role)?;
        ids.push(id);
    }
    Ok(ids)
}
