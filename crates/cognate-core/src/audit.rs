//! The audit trail: one structured event for every state change, emitted
//! as a `tracing` event with target `cognate::audit`, which the binary
//! writes as JSON lines (`COGNATE_AUDIT_LOG`). Events carry ids, never
//! tokens, secrets or session tokens.

use crate::model::{Login, MergeRecord, Pool};

pub const TARGET: &str = "cognate::audit";

pub fn pool_changed(event: &'static str, pool: &Pool) {
    tracing::info!(
        target: TARGET,
        event,
        account = %pool.account,
        pool_id = %pool.id,
        pool_name = %pool.name,
        version = pool.version,
    );
}

pub fn pool_deleted(account: &str, pool_id: &str) {
    tracing::info!(target: TARGET, event = "pool_deleted", account, pool_id);
}

pub fn identity_created(pool_id: &str, identity_id: &str, guest: bool) {
    tracing::info!(target: TARGET, event = "identity_created", pool_id, identity_id, guest);
}

pub fn identity_deleted(identity_id: &str) {
    tracing::info!(target: TARGET, event = "identity_deleted", identity_id);
}

/// The login's subject is a user id at the provider: not a secret, but
/// personal data; only the provider is logged.
pub fn login_linked(pool_id: &str, identity_id: &str, login: &Login) {
    tracing::info!(
        target: TARGET,
        event = "login_linked",
        pool_id,
        identity_id,
        provider = %login.provider,
    );
}

pub fn login_unlinked(pool_id: &str, identity_id: &str, login: &Login) {
    tracing::info!(
        target: TARGET,
        event = "login_unlinked",
        pool_id,
        identity_id,
        provider = %login.provider,
    );
}

pub fn identity_disabled(pool_id: &str, identity_id: &str, reason: &'static str) {
    tracing::info!(target: TARGET, event = "identity_disabled", pool_id, identity_id, reason);
}

pub fn identities_merged(merge: &MergeRecord) {
    tracing::info!(
        target: TARGET,
        event = "identities_merged",
        pool_id = %merge.pool_id,
        from_identity = %merge.from_identity,
        to_identity = %merge.to_identity,
        cause = merge.cause.as_str(),
    );
}

pub fn idle_guests_deleted(count: u64) {
    tracing::info!(target: TARGET, event = "idle_guests_deleted", count);
}

/// The deployment was emptied (`Cognate::reset`): what went, by kind.
pub fn deployment_reset(account: &str, removed: &crate::store::ResetCounts) {
    tracing::info!(
        target: TARGET,
        event = "deployment_reset",
        account,
        pools = removed.pools,
        identities = removed.identities,
        logins = removed.logins,
        merges = removed.merges,
        roles = removed.roles,
        managed_policies = removed.managed_policies,
        role_policy_attachments = removed.role_policy_attachments,
        oidc_providers = removed.oidc_providers,
        saml_providers = removed.saml_providers,
    );
}

pub fn keys_rotated(kid: &str) {
    tracing::info!(target: TARGET, event = "signing_key_rotated", kid);
}

pub fn credentials_vended(
    pool_id: &str,
    identity_id: &str,
    role_arn: &str,
    access_key_id: &str,
    flow: &'static str,
) {
    tracing::info!(
        target: TARGET,
        event = "credentials_vended",
        pool_id,
        identity_id,
        role_arn,
        access_key_id,
        flow,
    );
}

/// Everything an applied set of identity changes did.
pub fn identity_changes(changes: &crate::store::IdentityChanges) {
    if let Some(new) = &changes.create {
        identity_created(&changes.pool_id, &new.id, false);
    }
    for merge in &changes.merges {
        identities_merged(merge);
    }
    for (id, login) in &changes.unlinks {
        login_unlinked(&changes.pool_id, id, login);
    }
    for (id, login) in &changes.links {
        login_linked(&changes.pool_id, id, login);
    }
    for id in &changes.disable {
        identity_disabled(&changes.pool_id, id, "no logins left");
    }
}
