DROP TABLE tracker_hits;
DROP TABLE trackers;
