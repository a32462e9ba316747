-- Per-organization keyword and phrase trackers, and where conversations mention them.
CREATE TABLE trackers (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    phrases TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE tracker_hits (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tracker_id TEXT NOT NULL REFERENCES trackers(id) ON DELETE CASCADE,
    phrase TEXT NOT NULL,
    speaker TEXT NOT NULL,
    start_seconds DOUBLE PRECISION NOT NULL
);
CREATE INDEX tracker_hits_conversation ON tracker_hits(conversation_id);
CREATE INDEX tracker_hits_tracker ON tracker_hits(org_id, tracker_id);
