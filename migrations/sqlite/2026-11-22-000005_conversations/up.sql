-- Conversations (calls and tickets), their redacted segments, and the durable job queue.
CREATE TABLE conversations (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT,
    content_sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    agent_user_id TEXT,
    direction TEXT,
    started_at TEXT,
    language TEXT,
    duration_seconds DOUBLE PRECISION,
    channels TEXT NOT NULL,
    metadata TEXT NOT NULL,
    metrics TEXT,
    redactions TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (org_id, content_sha256)
);
CREATE UNIQUE INDEX conversations_external ON conversations(org_id, source, external_id);
CREATE INDEX conversations_org_created ON conversations(org_id, created_at);
CREATE TABLE segments (
    id TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    start_seconds DOUBLE PRECISION NOT NULL,
    end_seconds DOUBLE PRECISION NOT NULL,
    text TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    stage TEXT NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX jobs_state ON jobs(state, created_at);
CREATE INDEX jobs_org ON jobs(org_id, created_at);
