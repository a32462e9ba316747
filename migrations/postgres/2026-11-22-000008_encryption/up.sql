-- Encryption at rest. Each org's data keys (and its blind-index key), only ever
-- stored wrapped under the master key, which never enters the database.
CREATE TABLE org_keys (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    version INTEGER NOT NULL,
    master_id TEXT NOT NULL,
    wrapped TEXT,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    destroyed_at TEXT,
    UNIQUE (org_id, purpose, version)
);
-- Re-encryption of an org's data under a new key version, resumable.
CREATE TABLE key_rotations (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL,
    to_version INTEGER NOT NULL,
    state TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
-- Blind index: HMAC-SHA256 (org key) of normalized transcript terms and participant
-- e-mail addresses and phone numbers, for exact search without plaintext.
CREATE TABLE blind_index (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (conversation_id, tag)
);
CREATE INDEX blind_index_org_tag ON blind_index(org_id, tag);
