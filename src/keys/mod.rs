//! Key management: the master key, each org's wrapped data and blind-index keys, and
//! the per-org cipher every store function seals and opens values with.
//!
//! An org's keys are created on first use. A value names the key version it was
//! sealed under, so after `rotate-org` old and new versions are read side by side
//! until re-encryption finishes and the old version is destroyed.

pub mod master;
pub mod rotate;
mod subject;
pub mod upgrade;
pub use subject::SubjectCipher;

use crate::clock::SharedClock;
use crate::crypto::aead::{self, IntegrityError};
use crate::store::org_keys::{self, OrgKeyRow};
use crate::store::DbConn;
use master::{MasterError, MasterKey, Masters, Source};
use ring::aead::LessSafeKey;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use zeroize::Zeroizing;

/// The pseudo-org whose keys seal installation-wide secrets (users' TOTP secrets).
pub const SYSTEM: &str = "system";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Master(#[from] MasterError),
    #[error("the data of this organization was erased: its keys were destroyed")]
    Shredded(String),
    #[error(
        "org key {0} failed its integrity check under its master key; the key row was altered"
    )]
    Unwrap(String),
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    #[error("storage: {0}")]
    Storage(#[from] diesel::result::Error),
    #[error("{0}")]
    Crypto(String),
}

/// The master keys in force, re-read from disk when the database names a master key
/// this process does not know yet (after `insite keys rotate-master` elsewhere).
pub struct Keyring {
    masters: RwLock<Arc<Masters>>,
    clock: SharedClock,
}

fn wrap_aad(row: &OrgKeyRow) -> Vec<u8> {
    format!(
        "org_keys:{}:{}:{}:{}",
        row.id, row.org_id, row.purpose, row.version
    )
    .into_bytes()
}

impl Keyring {
    /// Loads the master key checked against what the database holds (`in_use`).
    pub fn open(
        source: Source,
        in_use: &[String],
        clock: SharedClock,
    ) -> Result<Self, MasterError> {
        Ok(Self {
            masters: RwLock::new(Arc::new(master::load(source, in_use)?)),
            clock,
        })
    }

    /// Loads the master key, checking it against the database's wrapped keys.
    pub fn open_checked(
        source: Source,
        conn: &mut DbConn,
        clock: SharedClock,
    ) -> Result<Self, KeyError> {
        let in_use = org_keys::master_ids(conn)?;
        Ok(Self::open(source, &in_use, clock)?)
    }

    /// Now, by the keyring's clock (for key and audit timestamps).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn masters(&self) -> Arc<Masters> {
        match self.masters.read() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn reload(&self, in_use: &[String]) -> Result<Arc<Masters>, KeyError> {
        let source = self.masters().source.clone();
        let fresh = Arc::new(master::load(source, in_use)?);
        match self.masters.write() {
            Ok(mut m) => *m = fresh.clone(),
            Err(poisoned) => *poisoned.into_inner() = fresh.clone(),
        }
        Ok(fresh)
    }

    /// The master key with this id (re-reading the key files once if unknown).
    fn master(&self, id: &str) -> Result<Arc<Masters>, KeyError> {
        let has = |m: &Masters| m.current.id == id || m.next.as_ref().is_some_and(|n| n.id == id);
        let masters = self.masters();
        if has(&masters) {
            return Ok(masters);
        }
        self.reload(&[id.to_string()])
    }

    fn unwrap_row(&self, row: &OrgKeyRow) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let wrapped = row
            .wrapped
            .as_deref()
            .ok_or_else(|| KeyError::Shredded(row.org_id.clone()))?;
        let masters = self.master(&row.master_id)?;
        let key: &MasterKey = if masters.current.id == row.master_id {
            &masters.current
        } else {
            masters.next.as_ref().unwrap_or(&masters.current)
        };
        let sealed = hex::decode(wrapped).map_err(|_| KeyError::Unwrap(row.id.clone()))?;
        let plain = Zeroizing::new(
            aead::open_bytes(&key.aead(), &wrap_aad(row), &sealed)
                .ok_or_else(|| KeyError::Unwrap(row.id.clone()))?,
        );
        let mut out = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return Err(KeyError::Unwrap(row.id.clone()));
        }
        out.copy_from_slice(&plain);
        Ok(out)
    }

    /// Wraps `key` for `row` under the given master key (fills master_id and wrapped).
    pub fn wrap_into(
        row: &mut OrgKeyRow,
        master: &MasterKey,
        key: &[u8; 32],
    ) -> Result<(), KeyError> {
        row.master_id = master.id.clone();
        let sealed =
            aead::seal_bytes(&master.aead(), &wrap_aad(row), key).map_err(KeyError::Crypto)?;
        row.wrapped = Some(hex::encode(sealed));
        Ok(())
    }

    /// Re-wraps one stored key under `to` (master rotation).
    pub fn rewrap(
        &self,
        conn: &mut DbConn,
        row: &OrgKeyRow,
        to: &MasterKey,
    ) -> Result<(), KeyError> {
        let key = self.unwrap_row(row)?;
        let mut next = row.clone();
        Self::wrap_into(&mut next, to, &key)?;
        org_keys::rewrap(
            conn,
            &row.id,
            &next.master_id,
            next.wrapped.as_deref().unwrap_or_default(),
        )?;
        Ok(())
    }

    /// A new random key row for `org_id` wrapped under the master key in force.
    pub fn new_key_row(
        &self,
        org_id: &str,
        purpose: &str,
        version: i32,
        now: &str,
    ) -> Result<OrgKeyRow, KeyError> {
        let masters = self.masters();
        let master = masters.next.as_ref().unwrap_or(&masters.current);
        let key = aead::random_key_bytes().map_err(KeyError::Crypto)?;
        let mut row = OrgKeyRow {
            id: crate::store::identity::new_id(),
            org_id: org_id.to_string(),
            purpose: purpose.to_string(),
            version,
            master_id: String::new(),
            wrapped: None,
            state: "active".into(),
            created_at: now.to_string(),
            destroyed_at: None,
        };
        Self::wrap_into(&mut row, master, &key)?;
        Ok(row)
    }

    /// The cipher of one org, creating its keys on first use.
    pub fn for_org(&self, conn: &mut DbConn, org_id: &str) -> Result<OrgCipher, KeyError> {
        let mut rows = org_keys::of_org(conn, org_id)?;
        if rows.is_empty() {
            let now = crate::domain::time::stamp(self.now());
            let data = self.new_key_row(org_id, "data", 1, &now)?;
            let index = self.new_key_row(org_id, "index", 1, &now)?;
            // Two processes may race here: the loser's insert fails on the unique key
            // and both read the winner's keys.
            let _ = diesel::Connection::transaction(conn, |conn| {
                org_keys::insert(conn, &data)?;
                org_keys::insert(conn, &index)
            });
            rows = org_keys::of_org(conn, org_id)?;
        }
        if rows
            .iter()
            .any(|r| r.state == "destroyed" && r.purpose == "index")
        {
            return Err(KeyError::Shredded(org_id.to_string()));
        }
        let mut data = BTreeMap::new();
        let mut active = None;
        let mut index = None;
        for row in rows.iter().filter(|r| r.wrapped.is_some()) {
            let key = self.unwrap_row(row)?;
            let version =
                u32::try_from(row.version).map_err(|_| KeyError::Unwrap(row.id.clone()))?;
            match row.purpose.as_str() {
                "index" => {
                    index = Some(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_ref()))
                }
                "data" => {
                    if row.state == "active" {
                        active = Some(version);
                    }
                    data.insert(version, aead::key(&key));
                }
                _ => {}
            }
        }
        match (active, index) {
            (Some(active), Some(index)) => Ok(OrgCipher {
                org_id: org_id.to_string(),
                active,
                data,
                index,
            }),
            _ => Err(KeyError::Shredded(org_id.to_string())),
        }
    }

    /// The cipher of installation-wide secrets.
    pub fn system(&self, conn: &mut DbConn) -> Result<OrgCipher, KeyError> {
        self.for_org(conn, SYSTEM)
    }
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({:?})", self.masters().current)
    }
}

/// One org's keys, unwrapped: seal and open values bound to their place, and compute
/// blind-index tags.
pub struct OrgCipher {
    pub org_id: String,
    active: u32,
    /// Data keys by version, expanded once (every value sealed or opened uses one).
    data: BTreeMap<u32, LessSafeKey>,
    index: ring::hmac::Key,
}

impl std::fmt::Debug for OrgCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OrgCipher({}, v{})", self.org_id, self.active)
    }
}

impl OrgCipher {
    fn aad(&self, table: &str, column: &str, row: &str) -> Vec<u8> {
        format!("{table}.{column}:{row}:{}", self.org_id).into_bytes()
    }

    /// The version new values are sealed under.
    pub fn active_version(&self) -> u32 {
        self.active
    }

    /// The data key of a version this org still holds.
    pub fn data_key(&self, version: u32) -> Option<LessSafeKey> {
        self.data.get(&version).cloned()
    }

    /// Seals `plain` for `table.column` of row `row`.
    pub fn seal(
        &self,
        table: &str,
        column: &str,
        row: &str,
        plain: &str,
    ) -> Result<String, KeyError> {
        let key = self
            .data
            .get(&self.active)
            .ok_or_else(|| KeyError::Shredded(self.org_id.clone()))?;
        aead::seal_value(key, self.active, &self.aad(table, column, row), plain)
            .map_err(KeyError::Crypto)
    }

    /// Opens a value sealed for `table.column` of row `row`.
    pub fn open(
        &self,
        table: &str,
        column: &str,
        row: &str,
        stored: &str,
    ) -> Result<String, IntegrityError> {
        aead::open_value(
            |v| self.data.get(&v),
            &self.aad(table, column, row),
            stored,
            || format!("{table}.{column} of row {row}"),
        )
    }

    /// A value sealed under an older key version, sealed again under the active one;
    /// `None` when it already is (key rotation).
    pub fn reseal(
        &self,
        table: &str,
        column: &str,
        row: &str,
        stored: &str,
    ) -> Result<Option<String>, KeyError> {
        if aead::version_of(stored) == Some(self.active) {
            return Ok(None);
        }
        let plain = self.open(table, column, row, stored)?;
        self.seal(table, column, row, &plain).map(Some)
    }

    /// Opens an optional value.
    pub fn open_opt(
        &self,
        table: &str,
        column: &str,
        row: &str,
        stored: Option<&str>,
    ) -> Result<Option<String>, IntegrityError> {
        stored.map(|s| self.open(table, column, row, s)).transpose()
    }

    /// The blind-index tag of a normalized term of a kind (`term`, `email`, `phone`,
    /// `sha256`): HMAC-SHA256 under the org's index key, hex, 128 bits.
    pub fn blind(&self, kind: &str, normalized: &str) -> String {
        let tag = ring::hmac::sign(&self.index, format!("{kind}:{normalized}").as_bytes());
        hex::encode(&tag.as_ref()[..16])
    }

    /// The context string binding a blob's chunks to its org and id.
    pub fn blob_context(&self, blob_id: &str) -> String {
        format!("blob:{}/{blob_id}", self.org_id)
    }
}
