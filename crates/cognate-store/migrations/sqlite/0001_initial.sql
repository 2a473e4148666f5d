-- Pools, roles, providers and keys are JSON documents with the columns
-- needed to find them; identities and logins are relational because the
-- link and merge rules depend on their constraints.

CREATE TABLE pools (
    id TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    developer_provider_name TEXT,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX pools_by_account ON pools (account, region, id);
CREATE UNIQUE INDEX pools_by_developer_provider
    ON pools (account, region, developer_provider_name)
    WHERE developer_provider_name IS NOT NULL;

CREATE TABLE identities (
    id TEXT PRIMARY KEY NOT NULL,
    pool_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    merged_into TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX identities_by_pool ON identities (pool_id, id);

-- A login belongs to at most one identity of a pool.
CREATE TABLE logins (
    pool_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    PRIMARY KEY (pool_id, provider, subject)
);
CREATE INDEX logins_by_identity ON logins (identity_id, provider, subject);

CREATE TABLE merges (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id TEXT NOT NULL,
    from_identity TEXT NOT NULL,
    to_identity TEXT NOT NULL,
    at INTEGER NOT NULL,
    cause TEXT NOT NULL
);
CREATE INDEX merges_from ON merges (from_identity);
CREATE INDEX merges_to ON merges (to_identity);
CREATE INDEX merges_by_pool ON merges (pool_id);

-- IAM role names are unique regardless of case.
CREATE TABLE roles (
    account TEXT NOT NULL,
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, name_key)
);

CREATE TABLE oidc_providers (
    arn TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    doc TEXT NOT NULL
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    doc TEXT NOT NULL
);

CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
