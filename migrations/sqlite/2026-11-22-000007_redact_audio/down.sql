ALTER TABLE orgs DROP COLUMN redact_audio;
