-- Customer managed policies (JSON documents) and their attachments to
-- roles; the same tables as migrations/sqlite. The attachments are the
-- source of truth for a role's attached policies and for a policy's
-- attachment count. Attaching locks the role and policy rows FOR SHARE,
-- deleting a policy locks its row FOR UPDATE, deleting a role deletes
-- (and so locks) its row first: an attachment never outlives either.

CREATE TABLE managed_policies (
    arn TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    -- IAM policy names are unique in an account regardless of case.
    name_key TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX managed_policies_by_name ON managed_policies (account, name_key);

CREATE TABLE role_policy_attachments (
    account TEXT NOT NULL,
    -- The role's lower-cased name, as roles.name_key.
    role_key TEXT COLLATE "C" NOT NULL,
    policy_arn TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account, role_key, policy_arn)
);
CREATE INDEX role_policy_attachments_by_policy ON role_policy_attachments (policy_arn);
