DROP INDEX jobs_batch;
ALTER TABLE jobs DROP COLUMN batch_id;
ALTER TABLE jobs DROP COLUMN params;
ALTER TABLE jobs DROP COLUMN kind;
ALTER TABLE orgs DROP COLUMN analysis;
DROP TABLE answer_reviews;
DROP TABLE scorecard_results;
DROP TABLE analyses;
DROP TABLE templates;
