-- Files a recording-storage connector (S3, SFTP) has taken, by an org-keyed tag of
-- where each lives (never its name). A file taken once is not read again: not when its
-- bytes were a duplicate of another recording, and not after its conversation was
-- erased, so an erasure is not undone by the next sync.
CREATE TABLE storage_objects (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    object_tag TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    PRIMARY KEY (org_id, object_tag)
);
