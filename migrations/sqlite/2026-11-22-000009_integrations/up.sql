-- Connectors of an organization (Zendesk, recording storage, alert targets): settings
-- in clear, credentials (API and OAuth tokens, passwords) sealed under the org's key.
CREATE TABLE integrations (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    settings TEXT NOT NULL,
    credential_names TEXT NOT NULL,
    credentials TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, name)
);
