-- Retention per data class, legal holds, purge runs, and data subjects with their
-- requests. Personal fields of a subject are sealed under the subject's own key.
ALTER TABLE orgs ADD COLUMN retention TEXT NOT NULL DEFAULT '{}';
-- When each data class of a conversation was purged (NULL: still held).
ALTER TABLE conversations ADD COLUMN raw_purged_at TEXT;
ALTER TABLE conversations ADD COLUMN content_purged_at TEXT;
ALTER TABLE conversations ADD COLUMN processed_purged_at TEXT;

CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    target_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    released_by TEXT,
    released_at TEXT
);
CREATE INDEX legal_holds_org ON legal_holds (org_id, scope, target_id);

CREATE TABLE purge_runs (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    counts TEXT NOT NULL,
    trigger TEXT NOT NULL
);
CREATE INDEX purge_runs_org ON purge_runs (org_id, started_at);

-- Where each audit chain begins after its oldest entries were purged.
CREATE TABLE audit_anchors (
    chain TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    purged_at TEXT NOT NULL
);

CREATE TABLE subjects (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT,
    email TEXT,
    phone TEXT,
    ai_opt_out BOOLEAN NOT NULL DEFAULT FALSE,
    restricted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    erased_at TEXT
);
CREATE INDEX subjects_org ON subjects (org_id);

-- Blind-index tags (org index key) of a subject's e-mail, phone and name.
CREATE TABLE subject_tags (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (subject_id, tag)
);
CREATE INDEX subject_tags_org_tag ON subject_tags (org_id, tag);

CREATE TABLE subject_links (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (subject_id, conversation_id)
);
CREATE INDEX subject_links_conversation ON subject_links (org_id, conversation_id);

CREATE TABLE subject_requests (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    requester TEXT NOT NULL,
    received_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    options TEXT NOT NULL,
    result TEXT,
    -- Work done by a background request (an export): percent, and the lease of the
    -- node doing it (expired: another node takes it over).
    progress INTEGER NOT NULL DEFAULT 0,
    lease_until TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX subject_requests_org ON subject_requests (org_id, state, due_at);
