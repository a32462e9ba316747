//! An integration ready for its connector: settings parsed, credentials opened, and the
//! caller (allowlist) the egress gate needs.

use super::egress::Caller;
use super::kinds;
use crate::keys::{KeyError, OrgCipher};
use crate::store::integrations::{self, Integration};
use crate::store::DbConn;
use serde_json::{Map, Value};

pub struct Opened {
    pub row: Integration,
    pub settings: Map<String, Value>,
    pub creds: Map<String, Value>,
    pub caller: Caller,
}

impl Opened {
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(Value::as_str)
    }

    pub fn secret(&self, key: &str) -> Option<&str> {
        self.creds.get(key).and_then(Value::as_str)
    }
}

fn object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Opens integration `id` of the cipher's org; None when it is not there.
pub fn open(conn: &mut DbConn, cipher: &OrgCipher, id: &str) -> Result<Option<Opened>, KeyError> {
    let Some(row) = integrations::get(conn, &cipher.org_id, id)? else {
        return Ok(None);
    };
    let creds = object(&cipher.open("integrations", "credentials", id, &row.credentials)?);
    let settings = object(&row.settings);
    let caller = Caller {
        org_id: row.org_id.clone(),
        integration_id: row.id.clone(),
        allowed: kinds::allowlist(&row.kind, &settings),
        secret_path: row.kind == "slack",
    };
    Ok(Some(Opened {
        row,
        settings,
        creds,
        caller,
    }))
}
