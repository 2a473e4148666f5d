//! The request being authorized: action, resource, principal and context keys.

/// Condition context keys and their values.
///
/// Key names are case-insensitive (`aws:SourceIp` and `AWS:sourceip` are the
/// same key). A key may hold several values (e.g.
/// `cognito-identity.amazonaws.com:amr`). A key present with zero values is
/// treated exactly like an absent key. A request carries a handful of
/// keys, so they are kept in a list: a scan is cheaper than hashing.
#[derive(Debug, Clone, Default)]
pub struct ContextKeys {
    /// Lowercased names, each once, with their values.
    entries: Vec<(String, Vec<String>)>,
}

impl PartialEq for ContextKeys {
    /// The same names with the same values, in any order.
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .all(|(key, values)| other.values(key) == Some(values))
    }
}

impl Eq for ContextKeys {}

impl ContextKeys {
    /// An empty set of keys.
    pub fn new() -> Self {
        Self::default()
    }

    fn values(&self, key_lc: &str) -> Option<&Vec<String>> {
        self.entries
            .iter()
            .find_map(|(k, v)| (k == key_lc).then_some(v))
    }

    /// Adds one value to `key` (keeping any existing values).
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl Into<String>) {
        let key_lc = lowercase(key.as_ref());
        match self.entries.iter_mut().find(|(k, _)| *k == *key_lc) {
            Some((_, values)) => values.push(value.into()),
            None => self.entries.push((key_lc.into_owned(), vec![value.into()])),
        }
    }

    /// Replaces all values of `key`.
    pub fn set<I, S>(&mut self, key: impl AsRef<str>, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let key_lc = lowercase(key.as_ref());
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        match self.entries.iter_mut().find(|(k, _)| *k == *key_lc) {
            Some((_, existing)) => *existing = values,
            None => self.entries.push((key_lc.into_owned(), values)),
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        let key_lc = lowercase(key);
        self.entries.retain(|(k, _)| *k != *key_lc);
    }

    /// The values of `key` (case-insensitive); `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.get_lc(&lowercase(key))
    }

    /// Lookup with an already lower-cased key.
    pub(crate) fn get_lc(&self, key_lc: &str) -> Option<&[String]> {
        self.values(key_lc)
            .map(Vec::as_slice)
            .filter(|v| !v.is_empty())
    }

    /// Iterates over `(lower-cased key, values)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `key` lowercased, without copying when it already is.
fn lowercase(key: &str) -> std::borrow::Cow<'_, str> {
    if key.chars().any(char::is_uppercase) {
        std::borrow::Cow::Owned(key.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

/// Who is making the request, as matched against `Principal` / `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RequestPrincipal {
    /// Unauthenticated caller; only matched by `"Principal": "*"` or `{"AWS": "*"}`.
    #[default]
    Anonymous,
    /// An AWS principal ARN (`arn:aws:iam::123456789012:user/x`,
    /// `arn:aws:sts::123456789012:assumed-role/R/S`, `...:root`).
    Aws(String),
    /// A web identity / SAML provider, e.g. `cognito-identity.amazonaws.com`.
    Federated(String),
    /// A service principal, e.g. `ec2.amazonaws.com`.
    Service(String),
    /// An S3 canonical user id.
    CanonicalUser(String),
}

/// Everything evaluation needs to know about one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestContext {
    /// `service:Action`, e.g. `cognito-identity:ListIdentityPools`.
    pub action: String,
    /// ARN of the resource acted on (`*` when the action has no resource).
    pub resource: String,
    /// The caller, for policies with `Principal` / `NotPrincipal`.
    pub principal: RequestPrincipal,
    /// Condition context keys.
    pub keys: ContextKeys,
}

impl RequestContext {
    /// A request for `action` on `resource` by an anonymous principal with no keys.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        RequestContext {
            action: action.into(),
            resource: resource.into(),
            principal: RequestPrincipal::Anonymous,
            keys: ContextKeys::new(),
        }
    }

    /// The request `sts:AssumeRoleWithWebIdentity` on `role_arn` by the
    /// federated provider `provider` (e.g. `cognito-identity.amazonaws.com`).
    pub fn assume_role_with_web_identity(
        provider: impl Into<String>,
        role_arn: impl Into<String>,
    ) -> Self {
        RequestContext::new("sts:AssumeRoleWithWebIdentity", role_arn)
            .with_principal(RequestPrincipal::Federated(provider.into()))
    }

    /// Sets the principal.
    pub fn with_principal(mut self, principal: RequestPrincipal) -> Self {
        self.principal = principal;
        self
    }

    /// Adds one value to a context key.
    pub fn with_key(mut self, key: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.keys.insert(key, value);
        self
    }

    /// Sets all values of a (multi-valued) context key.
    pub fn with_values<I, S>(mut self, key: impl AsRef<str>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys.set(key, values);
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_multi_valued() {
        let mut k = ContextKeys::new();
        k.insert("aws:SourceIp", "10.0.0.1");
        k.insert("AWS:SOURCEIP", "10.0.0.2");
        assert_eq!(
            k.get("aws:sourceip").unwrap(),
            &["10.0.0.1".to_owned(), "10.0.0.2".to_owned()]
        );
        k.set("x:empty", Vec::<String>::new());
        assert!(k.get("x:empty").is_none());
        k.remove("Aws:SourceIP");
        assert!(k.get("aws:SourceIp").is_none());
    }
}
