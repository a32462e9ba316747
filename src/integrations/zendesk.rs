//! The Zendesk connector: the incremental ticket export by cursor
//! (`/api/v2/incremental/tickets/cursor.json`), each ticket's comments and users, and
//! the recordings of voice tickets, all through the egress gate. Each ticket becomes
//! a conversation once (`<host>/tickets/<id>`), so a page fetched twice adds nothing.

use super::egress::{EgressError, Gate, Request, Response};
use super::kinds::{entry_of, zendesk_base};
use super::open::Opened;
use crate::pipeline::ingest::{CallMeta, Participant, Ticket, TicketMessage};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use url::Url;

/// A ticket as the export lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ZTicket {
    pub id: i64,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub requester_id: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One page of the export.
#[derive(Debug, Deserialize)]
pub struct Page {
    pub tickets: Vec<ZTicket>,
    pub after_cursor: Option<String>,
    #[serde(default)]
    pub end_of_stream: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ZComment {
    pub id: i64,
    pub author_id: i64,
    #[serde(default)]
    pub plain_body: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    pub created_at: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

#[derive(Deserialize)]
struct Comments {
    comments: Vec<ZComment>,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ZUser {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}

#[derive(Deserialize)]
struct Users {
    users: Vec<ZUser>,
}

#[derive(Deserialize)]
struct Me {
    user: ZUser,
}

/// A fetched ticket: the text conversation and its voice recordings.
pub struct Fetched {
    pub ticket: Ticket,
    pub recordings: Vec<(CallMeta, Vec<u8>)>,
}

pub struct Zendesk<'a> {
    gate: &'a Gate,
    integration: &'a Opened,
    base: Url,
    auth: String,
}

impl<'a> Zendesk<'a> {
    pub fn new(gate: &'a Gate, integration: &'a Opened) -> Result<Self, String> {
        let base = zendesk_base(&integration.settings)?;
        let auth = match (
            integration.secret("oauth_token"),
            integration.secret("email"),
            integration.secret("api_token"),
        ) {
            (Some(token), _, _) => format!("Bearer {token}"),
            (None, Some(email), Some(token)) => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{email}/token:{token}"))
            ),
            _ => return Err("the integration has no oauth_token, nor email and api_token".into()),
        };
        Ok(Zendesk {
            gate,
            integration,
            base,
            auth,
        })
    }

    fn url(&self, path: &str) -> Result<Url, String> {
        self.base
            .join(path)
            .map_err(|e| format!("bad Zendesk URL {path}: {e}"))
    }

    fn get(&self, url: Url) -> Result<Response, String> {
        let what = url.path().to_string();
        // The token goes to Zendesk only, never to another allowed host (recordings).
        let ours = super::egress::authority(&url) == super::egress::authority(&self.base);
        let mut req = Request::get(url).header("accept", "application/json");
        if ours {
            req = req.header("authorization", &self.auth);
        }
        let res = self
            .gate
            .send(&self.integration.caller, req)
            .map_err(|e| match e {
                EgressError::Refused(why) => format!("refused by the egress gate: {why}"),
                EgressError::Failed(why) => format!("Zendesk could not be reached ({why})"),
            })?;
        if res.ok() {
            return Ok(res);
        }
        Err(match res.status {
            401 | 403 => format!(
                "Zendesk refused the credentials (HTTP {}) on {what}: check the API token (or OAuth token) and the agent e-mail",
                res.status
            ),
            404 => format!("Zendesk answered 404 on {what}: check the subdomain or base URL"),
            429 => format!("Zendesk kept rate-limiting {what} (HTTP 429) after every retry"),
            s => format!("Zendesk answered HTTP {s} on {what} after every retry"),
        })
    }

    fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, String> {
        let what = url.path().to_string();
        let res = self.get(url)?;
        serde_json::from_slice(&res.body).map_err(|e| {
            format!("Zendesk sent an answer on {what} that is not the expected JSON ({e})")
        })
    }

    /// Checks the base URL and the credentials: who they sign in as.
    pub fn test(&self) -> Result<String, String> {
        let me: Me = self.get_json(self.url("/api/v2/users/me.json")?)?;
        Ok(format!(
            "signed in to {} as {}",
            self.base.host_str().unwrap_or_default(),
            me.user
                .email
                .or(me.user.name)
                .unwrap_or_else(|| me.user.id.to_string())
        ))
    }

    /// The export page after `cursor`, or the first from `start_time`.
    pub fn page(&self, cursor: Option<&str>) -> Result<Page, String> {
        let mut url = self.url("/api/v2/incremental/tickets/cursor.json")?;
        match cursor {
            Some(c) => url.query_pairs_mut().append_pair("cursor", c),
            None => {
                let start = self
                    .integration
                    .settings
                    .get("start_time")
                    .and_then(Value::as_i64);
                url.query_pairs_mut()
                    .append_pair("start_time", &start.unwrap_or(0).to_string())
            }
        };
        self.get_json(url)
    }

    fn comments(&self, ticket: i64) -> Result<Vec<ZComment>, String> {
        let mut url = self.url(&format!("/api/v2/tickets/{ticket}/comments.json"))?;
        let mut all = Vec::new();
        for _ in 0..100 {
            let page: Comments = self.get_json(url)?;
            all.extend(page.comments);
            match page.next_page {
                Some(next) => url = Url::parse(&next).map_err(|e| e.to_string())?,
                None => return Ok(all),
            }
        }
        Err(format!(
            "ticket {ticket} has more than 100 pages of comments"
        ))
    }

    fn users(&self, ids: &[i64]) -> Result<BTreeMap<i64, ZUser>, String> {
        let mut found = BTreeMap::new();
        for chunk in ids.chunks(100) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let mut url = self.url("/api/v2/users/show_many.json")?;
            url.query_pairs_mut().append_pair("ids", &list.join(","));
            let users: Users = self.get_json(url)?;
            found.extend(users.users.into_iter().map(|u| (u.id, u)));
        }
        Ok(found)
    }

    /// The ticket's conversation id at this Zendesk (`<host>/tickets/<id>`).
    pub fn external_id(&self, ticket: i64) -> String {
        format!("{}/tickets/{ticket}", entry_of(&self.base))
    }

    /// Fetches a ticket's comments, users and voice recordings.
    pub fn fetch(&self, t: &ZTicket) -> Result<Fetched, String> {
        let comments = self.comments(t.id)?;
        let mut ids: Vec<i64> = comments.iter().map(|c| c.author_id).collect();
        ids.extend(t.requester_id);
        ids.sort_unstable();
        ids.dedup();
        let users = self.users(&ids)?;
        let role = |id: i64| match users.get(&id).and_then(|u| u.role.as_deref()) {
            Some("agent" | "admin") => "agent",
            _ => "customer",
        };
        let name = |id: i64| {
            users
                .get(&id)
                .and_then(|u| u.name.clone())
                .unwrap_or_else(|| format!("Zendesk user {id}"))
        };
        let participants: Vec<Participant> = ids
            .iter()
            .filter_map(|id| users.get(id))
            .map(|u| Participant {
                name: u.name.clone(),
                email: u.email.clone(),
                phone: u.phone.clone(),
                role: Some(role(u.id).to_string()),
                ai_opt_out: false,
            })
            .collect();
        let messages: Vec<TicketMessage> = comments
            .iter()
            .filter_map(|c| {
                let text = c.plain_body.clone().or(c.body.clone())?;
                (!text.trim().is_empty()).then(|| TicketMessage {
                    author: name(c.author_id),
                    role: Some(role(c.author_id).to_string()),
                    at: c.created_at.clone(),
                    text,
                })
            })
            .collect();
        let mut recordings = Vec::new();
        for c in comments
            .iter()
            .filter(|c| c.kind.as_deref() == Some("VoiceComment"))
        {
            let Some(url) = c
                .data
                .as_ref()
                .and_then(|d| d.get("recording_url"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let url =
                Url::parse(url).map_err(|e| format!("ticket {}: bad recording_url: {e}", t.id))?;
            let audio = self.get(url)?.body;
            let meta = CallMeta {
                external_id: Some(format!("{}/calls/{}", self.external_id(t.id), c.id)),
                source: Some("zendesk".into()),
                participants: participants.clone(),
                started_at: Some(c.created_at.clone()),
                ..CallMeta::default()
            };
            recordings.push((meta, audio));
        }
        let mut subject: String = t
            .subject
            .clone()
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect();
        if subject.trim().is_empty() {
            subject = format!("Zendesk ticket {}", t.id);
        }
        let tags = t
            .tags
            .iter()
            .filter(|s| (1..=64).contains(&s.len()))
            .take(20)
            .cloned()
            .collect();
        Ok(Fetched {
            ticket: Ticket {
                external_id: Some(self.external_id(t.id)),
                source: Some("zendesk".into()),
                agent_user_id: None,
                subject,
                messages,
                participants,
                team: None,
                tags,
            },
            recordings,
        })
    }
}
