//! Names of resources: the ARNs cognate gives pools, roles, policies and
//! identity providers, and reads back; and the provider name of the
//! tokens cognate itself signs. A leaf: it depends on nothing else here.

/// The Logins key, and the provider of trust-policy condition keys, of
/// the tokens cognate signs.
pub const COGNITO_PROVIDER: &str = "cognito-identity.amazonaws.com";

/// An OIDC provider's URL without its scheme: its Logins key, and the
/// tail of its ARN.
pub fn strip_scheme(url: &str) -> &str {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
        .trim_end_matches('/')
}

pub fn pool_arn(region: &str, account: &str, pool_id: &str) -> String {
    format!("arn:aws:cognito-identity:{region}:{account}:identitypool/{pool_id}")
}

/// Parses `arn:aws:cognito-identity:<region>:<account>:identitypool/<id>`.
pub fn parse_pool_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:cognito-identity:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, rest) = rest.split_once(':')?;
    let pool_id = rest.strip_prefix("identitypool/")?;
    if region.is_empty() || account.is_empty() || pool_id.is_empty() {
        return None;
    }
    Some((region, account, pool_id))
}

/// `arn:aws:iam::<account>:role/<path/><name>` → (account, path, name).
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str, &str)> {
    parse_iam_arn(arn, "role/")
}

/// `arn:aws:iam::<account>:<kind><path/><name>` → (account, path, name).
fn parse_iam_arn<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, rest) = rest.split_once(':')?;
    let path_and_name = rest.strip_prefix(kind)?;
    if account.is_empty() || path_and_name.is_empty() {
        return None;
    }
    let (path, name) = match path_and_name.rfind('/') {
        Some(i) => (&path_and_name[..=i], &path_and_name[i + 1..]),
        None => ("", path_and_name),
    };
    if name.is_empty() {
        return None;
    }
    Some((account, path, name))
}

pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

pub fn policy_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:policy{path}{name}")
}

/// `arn:aws:iam::<account>:policy/<path/><name>` → (account, path, name).
pub fn parse_policy_arn(arn: &str) -> Option<(&str, &str, &str)> {
    parse_iam_arn(arn, "policy/")
}

pub fn oidc_provider_arn(account: &str, url: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{}", strip_scheme(url))
}

/// The Logins key an OIDC provider ARN stands for.
pub fn oidc_arn_host_path(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (_, rest) = rest.split_once(':')?;
    rest.strip_prefix("oidc-provider/")
}

pub fn saml_provider_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:saml-provider/{name}")
}
