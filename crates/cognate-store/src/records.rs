//! What both engines store alike: records as JSON documents in text
//! columns, the shape of a stored role and policy, and the provider tables.

use cognate_core::model::{ManagedPolicy, Role};
use cognate_core::store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub fn to_doc<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding a record: {e}")))
}

pub fn from_doc<T: DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Backend(format!("decoding a record: {e}")))
}

/// A role as stored: its attachments live in their own table.
pub fn role_doc(role: &Role) -> Result<String, StoreError> {
    let mut stored = role.clone();
    stored.attached_policies.clear();
    to_doc(&stored)
}

/// A managed policy as stored: its attachment count is counted, not kept.
pub fn policy_doc(policy: &ManagedPolicy) -> Result<String, StoreError> {
    let mut stored = policy.clone();
    stored.attachment_count = 0;
    to_doc(&stored)
}

/// The tables of IAM identity providers (OIDC, SAML): one shape, the ARN,
/// its account and the record as a JSON document.
pub const OIDC_PROVIDERS: &str = "oidc_providers";
pub const SAML_PROVIDERS: &str = "saml_providers";

/// One `Store` method over an engine's table-generic provider method,
/// written as `#[async_trait]` would write it: the attribute on the impl
/// does not see into a macro call.
macro_rules! provider_method {
    ($name:ident($arg:ident: &$ty:ty) -> $out:ty = $generic:ident($($pass:expr),*)) => {
        fn $name<'life0, 'life1, 'async_trait>(
            &'life0 self,
            $arg: &'life1 $ty,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = StoreResult<$out>> + Send + 'async_trait>,
        >
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move { self.$generic($($pass),*).await })
        }
    };
}
pub(crate) use provider_method;

/// The `Store` methods of both provider kinds, over an engine's five
/// table-generic ones (`insert_provider`, `get_provider`, `update_provider`,
/// `delete_provider`, `list_providers`), so each engine writes the SQL once.
macro_rules! provider_methods {
    () => {
        $crate::records::provider_method!(insert_oidc_provider(provider: &OidcProvider) -> () =
            insert_provider(OIDC_PROVIDERS, &provider.arn, &provider.account, provider));
        $crate::records::provider_method!(get_oidc_provider(arn: &str) -> Option<OidcProvider> =
            get_provider(OIDC_PROVIDERS, arn));
        $crate::records::provider_method!(update_oidc_provider(provider: &OidcProvider) -> () =
            update_provider(OIDC_PROVIDERS, &provider.arn, provider));
        $crate::records::provider_method!(delete_oidc_provider(arn: &str) -> bool =
            delete_provider(OIDC_PROVIDERS, arn));
        $crate::records::provider_method!(list_oidc_providers(account: &str) -> Vec<OidcProvider> =
            list_providers(OIDC_PROVIDERS, account));
        $crate::records::provider_method!(insert_saml_provider(provider: &SamlProvider) -> () =
            insert_provider(SAML_PROVIDERS, &provider.arn, &provider.account, provider));
        $crate::records::provider_method!(get_saml_provider(arn: &str) -> Option<SamlProvider> =
            get_provider(SAML_PROVIDERS, arn));
        $crate::records::provider_method!(update_saml_provider(provider: &SamlProvider) -> () =
            update_provider(SAML_PROVIDERS, &provider.arn, provider));
        $crate::records::provider_method!(delete_saml_provider(arn: &str) -> bool =
            delete_provider(SAML_PROVIDERS, arn));
        $crate::records::provider_method!(list_saml_providers(account: &str) -> Vec<SamlProvider> =
            list_providers(SAML_PROVIDERS, account));
    };
}
pub(crate) use provider_methods;

/// A value bound to an audit query's placeholder.
pub enum AuditParam<'a> {
    Int(i64),
    Text(&'a str),
}

pub const AUDIT_COLUMNS: &str =
    "at, id, kind, pool_id, identity_id, other_identity_id, caller, detail";

/// The audit trail's list query, for both engines: only the filters the
/// query sets are in the text (so each engine plans a range scan of the
/// index that filter has), newest first. `placeholder(n)` writes the
/// engine's n-th placeholder (from 1); the limit is the last.
pub fn audit_list_sql<'a>(
    query: &'a cognate_core::audit::AuditQuery,
    placeholder: fn(usize) -> String,
) -> (String, Vec<AuditParam<'a>>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<AuditParam<'a>> = Vec::new();
    let next = |param: AuditParam<'a>, params: &mut Vec<AuditParam<'a>>| {
        params.push(param);
        placeholder(params.len())
    };
    if let Some(pool_id) = &query.pool_id {
        let p = next(AuditParam::Text(pool_id), &mut params);
        conditions.push(format!("pool_id = {p}"));
    }
    if let Some(identity_id) = &query.identity_id {
        let p = next(AuditParam::Text(identity_id), &mut params);
        let q = next(AuditParam::Text(identity_id), &mut params);
        conditions.push(format!("(identity_id = {p} OR other_identity_id = {q})"));
    }
    if let Some(kind) = &query.kind {
        let p = next(AuditParam::Text(kind), &mut params);
        if query.identity_id.is_some() {
            // An identity's few events are read through its indexes and
            // the kind filtered among them: through the kind's index the
            // query would walk every identity's events of that kind (1.2 s
            // for one identity's vendings among 600,000 on SQLite).
            // `kind || ''` is no indexed column, so no planner takes it.
            conditions.push(format!("kind || '' = {p}"));
        } else {
            conditions.push(format!("kind = {p}"));
        }
    }
    if let Some(since) = query.since {
        let p = next(AuditParam::Int(since), &mut params);
        conditions.push(format!("at >= {p}"));
    }
    if let Some(until) = query.until {
        let p = next(AuditParam::Int(until), &mut params);
        conditions.push(format!("at < {p}"));
    }
    if let Some((at, id)) = &query.before {
        let p = next(AuditParam::Int(*at), &mut params);
        let q = next(AuditParam::Text(id), &mut params);
        conditions.push(format!("(at, id) < ({p}, {q})"));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let limit = placeholder(params.len() + 1);
    (
        format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events {filter} ORDER BY at DESC, id DESC LIMIT {limit}"
        ),
        params,
    )
}
