-- AI analysis: versioned scorecard templates and custom insights, results per
-- conversation (content sealed under the org's key), and human review of answers.
CREATE TABLE templates (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    template_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL,
    retired_at TEXT,
    UNIQUE (template_id, version)
);
CREATE INDEX templates_org_kind ON templates (org_id, kind);

CREATE TABLE analyses (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    reason_code TEXT,
    reason TEXT,
    result TEXT,
    model TEXT,
    model_sha256 TEXT,
    prompt_version TEXT,
    timings TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX analyses_conversation ON analyses (org_id, conversation_id);

CREATE TABLE scorecard_results (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    template_id TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    agent_user_id TEXT,
    conversation_at TEXT NOT NULL,
    score DOUBLE PRECISION,
    answers TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (conversation_id, template_id, template_version)
);
CREATE INDEX scorecard_results_agent ON scorecard_results (org_id, agent_user_id, conversation_at);

CREATE TABLE answer_reviews (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    result_id TEXT NOT NULL REFERENCES scorecard_results(id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    answer TEXT,
    comment TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    resolved_by TEXT,
    resolved_at TEXT,
    resolution TEXT
);
CREATE INDEX answer_reviews_result ON answer_reviews (org_id, result_id);

ALTER TABLE orgs ADD COLUMN analysis TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'process';
ALTER TABLE jobs ADD COLUMN params TEXT;
ALTER TABLE jobs ADD COLUMN batch_id TEXT;
CREATE INDEX jobs_batch ON jobs (org_id, batch_id);
