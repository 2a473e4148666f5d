//! Who is calling, and the one check every operation of the domain makes
//! before it acts: the caller may perform the action on each resource the
//! operation acts on, as the domain finds it (an identity's pool is the
//! pool the store says it belongs to, never one a request names beside
//! it). The HTTP server, the command line and the importer all call the
//! domain, so none of them can skip it.

use std::fmt;

use crate::error::{Error, Result};
use crate::ids;
use crate::operation::Operation;
use crate::service::Cognate;
use crate::session::Session;

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// The account root: the admin key, the command line.
    Root,
    /// An unsigned call. Only the public operations take one, and they
    /// authorize nothing (their logins prove the caller instead).
    Anonymous,
    /// Temporary credentials cognate vended: their role's policies,
    /// narrowed by their session policies, decide.
    Session(std::sync::Arc<Session>),
}

/// Who is calling, as the protocol layer authenticated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// Region from the SigV4 credential scope, else the default.
    pub region: String,
    pub authority: Authority,
    /// Where the request came from, when it came over the network.
    pub origin: Option<Origin>,
}

/// Where a request came from, for the `aws:SourceIp` and
/// `aws:SecureTransport` condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The client, as the trusted proxies name it.
    pub source_ip: std::net::IpAddr,
    /// Whether the client's connection was TLS (to cognate, or to a
    /// trusted proxy that says so).
    pub secure_transport: bool,
}

impl Caller {
    /// The account root in `region`.
    pub fn root(account: impl Into<String>, region: impl Into<String>) -> Caller {
        Caller {
            account: account.into(),
            region: region.into(),
            authority: Authority::Root,
            origin: None,
        }
    }

    /// The ARN of a pool of the caller's account, from the pool's id
    /// alone: what an operation on a named pool is authorized on before
    /// the pool is read, so a caller learns nothing of a pool it may not
    /// act on, not even whether it exists.
    pub fn pool_arn(&self, pool_id: &str) -> String {
        let region = ids::region_of(pool_id).unwrap_or(&self.region);
        crate::arn::pool_arn(region, &self.account, pool_id)
    }

    /// Whether `pool` is one the caller's requests can name: of its account
    /// and of the region its request is scoped to, as a regional endpoint
    /// of AWS sees only its region's pools.
    pub fn sees(&self, pool: &crate::model::Pool) -> bool {
        pool.account == self.account && pool.region == self.region
    }

    /// Who the caller is, as an ARN (in denials and GetCallerIdentity).
    pub fn arn(&self) -> String {
        match &self.authority {
            Authority::Root => format!("arn:aws:iam::{}:root", self.account),
            Authority::Anonymous => "anonymous".to_string(),
            Authority::Session(session) => session.assumed_role_arn(),
        }
    }
}

/// What a call asks to do, as IAM policies name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// One of the operations cognate serves (`cognito-identity:ListIdentities`).
    Call(Operation),
    /// Handing a role to the service (`iam:PassRole`), as SetIdentityPoolRoles
    /// does for each role it attaches.
    PassRole,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Call(operation) => {
                write!(f, "{}:{}", operation.service().signing_name(), operation)
            }
            Action::PassRole => f.write_str("iam:PassRole"),
        }
    }
}

impl From<Operation> for Action {
    fn from(operation: Operation) -> Self {
        Action::Call(operation)
    }
}

/// The resource of a call that acts on no resource in particular
/// (CreateIdentityPool, the list calls), and of a named resource that does
/// not exist (so that only a caller allowed everywhere learns it is
/// missing).
pub const ANY_RESOURCE: &str = "*";

/// One thing a call asks to do: the action, the resource, and the
/// condition keys the request gives it (tags, the policy attached...).
#[derive(Debug, Clone)]
pub(crate) struct Access {
    action: Action,
    resource: String,
    /// How a denial names the resource, when not by its ARN (which could
    /// tell the caller more than it may know).
    shown: Option<String>,
    keys: Vec<(String, Vec<String>)>,
}

impl Access {
    pub fn new(action: impl Into<Action>, resource: impl Into<String>) -> Access {
        Access {
            action: action.into(),
            resource: resource.into(),
            shown: None,
            keys: Vec::new(),
        }
    }

    /// A condition key of the request.
    pub fn key(mut self, name: impl Into<String>, value: impl Into<String>) -> Access {
        self.keys.push((name.into(), vec![value.into()]));
        self
    }

    /// The tags of the resource acted on (`aws:ResourceTag/<key>`; IAM's
    /// resources also as `iam:ResourceTag/<key>`).
    pub fn resource_tags(mut self, tags: &std::collections::BTreeMap<String, String>) -> Access {
        let iam = matches!(self.action, Action::Call(op) if op.service() == crate::operation::Service::Iam);
        for (k, values) in by_key_name(tags.iter().map(|(k, v)| (k, Some(v)))) {
            if iam {
                self.keys
                    .push((format!("iam:ResourceTag/{k}"), values.clone()));
            }
            self.keys.push((format!("aws:ResourceTag/{k}"), values));
        }
        self
    }

    /// Tags the request sets (`aws:RequestTag/<key>`) or names
    /// (`aws:TagKeys`).
    pub fn request_tags<'a>(
        mut self,
        tags: impl IntoIterator<Item = (&'a String, Option<&'a String>)> + Clone,
    ) -> Access {
        for (k, values) in by_key_name(tags.clone()) {
            if !values.is_empty() {
                self.keys.push((format!("aws:RequestTag/{k}"), values));
            }
        }
        let keys = tags.into_iter().map(|(k, _)| k.clone()).collect();
        self.keys.push(("aws:TagKeys".into(), keys));
        self
    }

    /// Names the resource in a denial by `shown` instead of its ARN.
    pub fn shown_as(mut self, shown: impl Into<String>) -> Access {
        self.shown = Some(shown.into());
        self
    }
}

impl Cognate {
    /// Refuses with AccessDenied unless `caller` may perform `action` on
    /// `resource`.
    pub(crate) async fn authorize(
        &self,
        caller: &Caller,
        action: impl Into<Action>,
        resource: &str,
    ) -> Result<()> {
        self.authorize_access(caller, Access::new(action, resource))
            .await
    }

    /// Refuses with AccessDenied unless `caller` may do what `access` asks.
    pub(crate) async fn authorize_access(&self, caller: &Caller, access: Access) -> Result<()> {
        if self.allows(caller, &access).await? {
            return Ok(());
        }
        Err(denied(caller, &access))
    }

    /// Whether `caller` may do what `access` asks (for operations that
    /// answer per resource, as DeleteIdentities does).
    pub(crate) async fn allows(&self, caller: &Caller, access: &Access) -> Result<bool> {
        let session = match &caller.authority {
            Authority::Root => return Ok(true),
            Authority::Anonymous => return Ok(false),
            Authority::Session(session) => session,
        };
        let action = access.action.to_string();
        self.session_allows(caller, session, &action, &access.resource, &access.keys)
            .await
    }
}

/// Tag values by key name. Policies name condition keys without regard to
/// case, so tags whose keys differ only in case (a Cognito pool may have
/// both `Env` and `env`) make one key with all their values: a condition
/// on it sees every one, and a Deny cannot be sidestepped by a second
/// spelling.
fn by_key_name<'a>(
    tags: impl IntoIterator<Item = (&'a String, Option<&'a String>)>,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (k, v) in tags {
        let values = by_name.entry(k.to_lowercase()).or_default();
        values.extend(v.cloned());
    }
    by_name
}

/// AWS's wording of a denial.
fn denied(caller: &Caller, access: &Access) -> Error {
    let who = caller.arn();
    let action = access.action;
    let resource = access.shown.as_deref().unwrap_or(&access.resource);
    Error::AccessDenied(if resource == ANY_RESOURCE || resource.is_empty() {
        format!("User: {who} is not authorized to perform: {action}")
    } else {
        format!("User: {who} is not authorized to perform: {action} on resource: {resource}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_as_iam_names_them() {
        assert_eq!(
            Action::Call(Operation::DescribeIdentity).to_string(),
            "cognito-identity:DescribeIdentity"
        );
        assert_eq!(
            Action::Call(Operation::GetCallerIdentity).to_string(),
            "sts:GetCallerIdentity"
        );
        assert_eq!(
            Action::Call(Operation::CreateRole).to_string(),
            "iam:CreateRole"
        );
        assert_eq!(Action::PassRole.to_string(), "iam:PassRole");
    }
}
