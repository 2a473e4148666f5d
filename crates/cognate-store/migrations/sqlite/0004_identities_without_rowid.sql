-- Identities keyed by their id alone (WITHOUT ROWID): a lookup walks one
-- b-tree instead of the id index and then the table, so at millions of
-- identities it reads one leaf page from the file instead of two, and a
-- new identity writes one b-tree fewer. Nothing references the table by
-- rowid.
CREATE TABLE identities_by_id (
    id TEXT PRIMARY KEY NOT NULL,
    pool_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    merged_into TEXT,
    version INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO identities_by_id (id, pool_id, created_at, updated_at, disabled, merged_into, version)
    SELECT id, pool_id, created_at, updated_at, disabled, merged_into, version FROM identities;
DROP TABLE identities;
ALTER TABLE identities_by_id RENAME TO identities;
CREATE INDEX identities_by_pool ON identities (pool_id, id);
