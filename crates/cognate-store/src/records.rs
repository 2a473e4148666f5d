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
