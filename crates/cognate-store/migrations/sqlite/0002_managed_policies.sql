-- Customer managed policies (JSON documents) and their attachments to
-- roles. The attachments are the source of truth for a role's attached
-- policies and for a policy's attachment count, so that attaching and
-- deleting can be checked against each other in one transaction.

CREATE TABLE managed_policies (
    arn TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    -- IAM policy names are unique in an account regardless of case.
    name_key TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX managed_policies_by_name ON managed_policies (account, name_key);

CREATE TABLE role_policy_attachments (
    account TEXT NOT NULL,
    -- The role's lower-cased name, as roles.name_key.
    role_key TEXT NOT NULL,
    policy_arn TEXT NOT NULL,
    PRIMARY KEY (account, role_key, policy_arn)
);
CREATE INDEX role_policy_attachments_by_policy ON role_policy_attachments (policy_arn);
