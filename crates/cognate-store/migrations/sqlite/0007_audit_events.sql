-- The audit trail (cognate_core::audit): one row per event, written in
-- batches, read newest first by the console's Activity page, purged by
-- age. As migrations/postgres/0006_audit_events.sql.
--
-- The key (at, id) orders the trail: at is Unix milliseconds, id a UUIDv7
-- (unique, time-ordered within a node). WITHOUT ROWID clusters the rows
-- in that order, so the newest page and the purge of the oldest rows are
-- range scans; each filter has an index in the same order. detail is a
-- small JSON object, never a secret.
CREATE TABLE audit_events (
    at INTEGER NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    pool_id TEXT,
    identity_id TEXT,
    other_identity_id TEXT,
    caller TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (at, id)
) WITHOUT ROWID;
CREATE INDEX audit_events_by_pool ON audit_events (pool_id, at, id)
    WHERE pool_id IS NOT NULL;
CREATE INDEX audit_events_by_identity ON audit_events (identity_id, at, id)
    WHERE identity_id IS NOT NULL;
-- Only merges have a second identity.
CREATE INDEX audit_events_by_other_identity ON audit_events (other_identity_id, at, id)
    WHERE other_identity_id IS NOT NULL;
CREATE INDEX audit_events_by_kind ON audit_events (kind, at, id);
