-- Integrations at work: each connector's progress and health, the outbound log of the
-- egress gate, accepted webhook deliveries (replay protection), alert rules and the
-- alerts they fired.
CREATE TABLE integration_state (
    integration_id TEXT PRIMARY KEY NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    -- Where the next export resumes (e.g. Zendesk's after_cursor).
    cursor TEXT,
    items_fetched INTEGER NOT NULL DEFAULT 0,
    last_run_at TEXT,
    last_success_at TEXT,
    last_error TEXT,
    last_error_at TEXT,
    -- A node syncing this connector holds it until then.
    lease_until TEXT
);

-- Every call through the egress gate: never bodies, queries or secrets.
CREATE TABLE egress_log (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL,
    at TEXT NOT NULL,
    method TEXT NOT NULL,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER,
    bytes INTEGER NOT NULL,
    -- success, failure (error or bad status), refused (host not allowed)
    outcome TEXT NOT NULL,
    error TEXT
);
CREATE INDEX egress_log_org ON egress_log (org_id, at);

CREATE TABLE webhook_deliveries (
    integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    signature TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    received_at TEXT NOT NULL,
    PRIMARY KEY (integration_id, signature)
);

CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- JSON, e.g. {"kind":"score_below","threshold":60}
    condition TEXT NOT NULL,
    integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (org_id, name)
);

-- One alert per rule and conversation: a conversation analysed again fires no second.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    rule_id TEXT NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    -- What matched, e.g. "score 42.0 below 60" (no conversation content).
    detail TEXT NOT NULL,
    -- pending, sent, failed
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (rule_id, conversation_id)
);
CREATE INDEX alerts_due ON alerts (state, next_attempt_at);
