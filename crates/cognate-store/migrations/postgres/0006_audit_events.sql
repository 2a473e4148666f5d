-- The audit trail (cognate_core::audit): one row per event, written in
-- batches by each node, read newest first by the console's Activity page,
-- purged by age. As migrations/sqlite/0007_audit_events.sql.
--
-- The key (at, id) orders the trail: at is Unix milliseconds, id a UUIDv7
-- (unique, time-ordered within a node). Pages are cut by keyset on it, so
-- a page costs the same at any depth; the purge deletes from its old end.
-- Each filter has an index in the same order, so a filtered page is a
-- range scan too. detail is a small JSON object, never a secret.
CREATE TABLE audit_events (
    at BIGINT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    pool_id TEXT COLLATE "C",
    identity_id TEXT COLLATE "C",
    other_identity_id TEXT COLLATE "C",
    caller TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (at, id)
);
CREATE INDEX audit_events_by_pool ON audit_events (pool_id, at, id)
    WHERE pool_id IS NOT NULL;
CREATE INDEX audit_events_by_identity ON audit_events (identity_id, at, id)
    WHERE identity_id IS NOT NULL;
-- Only merges have a second identity.
CREATE INDEX audit_events_by_other_identity ON audit_events (other_identity_id, at, id)
    WHERE other_identity_id IS NOT NULL;
CREATE INDEX audit_events_by_kind ON audit_events (kind, at, id);
