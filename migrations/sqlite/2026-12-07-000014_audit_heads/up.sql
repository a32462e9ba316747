-- The newest entry of each audit chain (its seq and hash), written with every append in
-- the same transaction. `insite audit verify` checks each chain ends at its head, so
-- deleting the newest entries or a whole organization's chain no longer verifies.
CREATE TABLE audit_heads (
    chain TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_heads (chain, seq, hash)
SELECT a.chain, a.seq, a.hash FROM audit_log a
WHERE a.seq = (SELECT MAX(b.seq) FROM audit_log b WHERE b.chain = a.chain);
