-- Per organization: also overwrite redacted spans in stored recordings ('off', 'silence', 'tone').
ALTER TABLE orgs ADD COLUMN redact_audio TEXT NOT NULL DEFAULT 'off';
