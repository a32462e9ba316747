-- One-time conversions of stored data that need the org keys, so SQL cannot do them
-- (the server runs each once at start, after the migrations, and records it here):
-- `sealed-speakers-external-ids-hold-reasons` seals speaker names (channels, metrics,
-- segments, tracker hits), external ids and legal-hold reasons that earlier versions
-- stored in clear.
CREATE TABLE data_upgrades (
    name TEXT PRIMARY KEY,
    done_at TEXT NOT NULL
);
