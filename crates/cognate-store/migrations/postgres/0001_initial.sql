-- Pools, roles, providers and keys are JSON documents with the columns
-- needed to find them; identities and logins are relational because the
-- link and merge rules depend on their constraints.
--
-- The same tables as migrations/sqlite, with PostgreSQL types. Text keys
-- that are sorted or paged through (`ORDER BY`, `> after`) use the "C"
-- collation, so that PostgreSQL orders them bytewise exactly as SQLite
-- does, whatever the database's default locale. (CockroachDB always orders
-- strings bytewise but rejects `COLLATE "C"` on a column: a CockroachDB
-- variant of this file would simply drop those clauses.)

CREATE TABLE pools (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    developer_provider_name TEXT,
    version BIGINT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX pools_by_account ON pools (account, region, id);
CREATE UNIQUE INDEX pools_by_developer_provider
    ON pools (account, region, developer_provider_name)
    WHERE developer_provider_name IS NOT NULL;

-- One row per (account, region) that ever had a pool. Inserting a pool
-- locks its row (SELECT ... FOR UPDATE) before counting the pools, so
-- concurrent inserts into one account and region take turns and the
-- per-region limit holds. The row carries no data: the count is always
-- taken from `pools` itself.
CREATE TABLE pool_quota_locks (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    PRIMARY KEY (account, region)
);

CREATE TABLE identities (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    pool_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    merged_into TEXT,
    version BIGINT NOT NULL
);
CREATE INDEX identities_by_pool ON identities (pool_id, id);

-- A login belongs to at most one identity of a pool.
CREATE TABLE logins (
    pool_id TEXT NOT NULL,
    provider TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    identity_id TEXT NOT NULL,
    PRIMARY KEY (pool_id, provider, subject)
);
CREATE INDEX logins_by_identity ON logins (identity_id, provider, subject);

CREATE TABLE merges (
    seq BIGSERIAL PRIMARY KEY,
    pool_id TEXT NOT NULL,
    from_identity TEXT NOT NULL,
    to_identity TEXT NOT NULL,
    at BIGINT NOT NULL,
    cause TEXT NOT NULL
);
CREATE INDEX merges_from ON merges (from_identity);
CREATE INDEX merges_to ON merges (to_identity);
CREATE INDEX merges_by_pool ON merges (pool_id);

-- IAM role names are unique regardless of case.
CREATE TABLE roles (
    account TEXT NOT NULL,
    name_key TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, name_key)
);

CREATE TABLE oidc_providers (
    arn TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX oidc_providers_by_account ON oidc_providers (account, arn);

CREATE TABLE signing_keys (
    kid TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    doc TEXT NOT NULL
);

CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);
