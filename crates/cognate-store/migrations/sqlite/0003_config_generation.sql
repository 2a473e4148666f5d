-- The configuration generation: bumped by one in the transaction of every
-- change to pools, roles (attachments included), managed policies and
-- OIDC providers. A node caches configuration and compares this counter
-- with the generation of its cache on every request, so a change made
-- through any node is seen by the next request on every node.

CREATE TABLE config_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO config_generation (id, value) VALUES (1, 0);
