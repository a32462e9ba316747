//! A data subject's own key: their personal fields (name, e-mail, phone) are sealed
//! under it, so erasing the subject destroys the key and every copy of those fields
//! (backups included) can never be opened again. Wrapped under the master key like
//! the org keys (a master rotation re-wraps it too).

use super::{KeyError, Keyring};
use crate::crypto::aead::{self, IntegrityError};
use crate::store::org_keys::{self, SUBJECT_PREFIX};
use crate::store::DbConn;
use ring::aead::LessSafeKey;

/// One subject's key, unwrapped: seals and opens that subject's fields.
pub struct SubjectCipher {
    org_id: String,
    subject_id: String,
    key: LessSafeKey,
}

impl Keyring {
    /// Creates the key of a new subject.
    pub fn new_subject_key(
        &self,
        conn: &mut DbConn,
        org_id: &str,
        subject_id: &str,
        now: &str,
    ) -> Result<SubjectCipher, KeyError> {
        let row = self.new_key_row(org_id, &format!("{SUBJECT_PREFIX}{subject_id}"), 1, now)?;
        org_keys::insert(conn, &row)?;
        self.subject(conn, org_id, subject_id)
    }

    /// The key of a subject; `Shredded` once it was destroyed (erasure).
    pub fn subject(
        &self,
        conn: &mut DbConn,
        org_id: &str,
        subject_id: &str,
    ) -> Result<SubjectCipher, KeyError> {
        let row = org_keys::of_subject(conn, org_id, subject_id)?
            .ok_or_else(|| KeyError::Shredded(format!("subject {subject_id}")))?;
        let bytes = self.unwrap_row(&row)?;
        Ok(SubjectCipher {
            org_id: org_id.to_string(),
            subject_id: subject_id.to_string(),
            key: aead::key(&bytes),
        })
    }

    /// Crypto-shreds a subject: the wrapped key is overwritten; answers whether one was.
    pub fn destroy_subject_key(
        &self,
        conn: &mut DbConn,
        org_id: &str,
        subject_id: &str,
        now: &str,
    ) -> Result<bool, KeyError> {
        match org_keys::of_subject(conn, org_id, subject_id)? {
            Some(row) if row.wrapped.is_some() => Ok(org_keys::destroy(conn, &row.id, now)? == 1),
            _ => Ok(false),
        }
    }
}

impl SubjectCipher {
    fn aad(&self, column: &str) -> Vec<u8> {
        format!("subjects.{column}:{}:{}", self.subject_id, self.org_id).into_bytes()
    }

    pub fn seal(&self, column: &str, plain: &str) -> Result<String, KeyError> {
        aead::seal_value(&self.key, 1, &self.aad(column), plain).map_err(KeyError::Crypto)
    }

    pub fn open(&self, column: &str, stored: &str) -> Result<String, IntegrityError> {
        aead::open_value(
            |v| (v == 1).then_some(&self.key),
            &self.aad(column),
            stored,
            || format!("subjects.{column} of subject {}", self.subject_id),
        )
    }
}
