-- The console's identity filters (guest, authenticated, disabled), each a
-- page at a time in id order through an index of its own, so a page costs
-- the same however rare the kind is in a pool of millions. As
-- migrations/sqlite/0006_identity_filters.sql.
--
-- has_logins: whether the identity holds a login now; the store keeps it
-- with every link, unlink and merge (in the same statement that bumps the
-- identity's version).
ALTER TABLE identities ADD COLUMN has_logins BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE identities SET has_logins = TRUE
    WHERE EXISTS (SELECT 1 FROM logins l WHERE l.identity_id = identities.id);
-- Guests (has_logins false) and authenticated identities (true) of a pool.
CREATE INDEX identities_enabled_by_logins ON identities (pool_id, has_logins, id)
    WHERE NOT disabled;
-- Disabled (merged away, or left without logins) identities of a pool.
CREATE INDEX identities_disabled ON identities (pool_id, id) WHERE disabled;
