-- SAML identity providers registered through IAM (CreateSAMLProvider).
-- Changes to them bump the configuration generation, as OIDC providers do.
CREATE TABLE saml_providers (
    arn TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    doc TEXT NOT NULL
);
