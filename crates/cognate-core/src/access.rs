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
    Session(Box<Session>),
}

/// Who is calling, as the protocol layer authenticated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// Region from the SigV4 credential scope, else the default.
    pub region: String,
    pub authority: Authority,
}

impl Caller {
    /// The account root in `region`.
    pub fn root(account: impl Into<String>, region: impl Into<String>) -> Caller {
        Caller {
            account: account.into(),
            region: region.into(),
            authority: Authority::Root,
        }
    }

    /// The ARN of a pool of the caller's account, from the pool's id
    /// alone: what an operation on a named pool is authorized on before
    /// the pool is read, so a caller learns nothing of a pool it may not
    /// act on, not even whether it exists.
    pub fn pool_arn(&self, pool_id: &str) -> String {
        let region = ids::region_of(pool_id).unwrap_or(&self.region);
        ids::pool_arn(region, &self.account, pool_id)
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

impl Cognate {
    /// Refuses with AccessDenied unless `caller` may perform `action` on
    /// `resource`.
    pub(crate) async fn authorize(
        &self,
        caller: &Caller,
        action: impl Into<Action>,
        resource: &str,
    ) -> Result<()> {
        let action = action.into();
        if self.allows(caller, action, resource).await? {
            return Ok(());
        }
        Err(denied(caller, action, resource))
    }

    /// Whether `caller` may perform `action` on `resource` (for operations
    /// that answer per resource, as DeleteIdentities does).
    pub(crate) async fn allows(
        &self,
        caller: &Caller,
        action: Action,
        resource: &str,
    ) -> Result<bool> {
        match &caller.authority {
            Authority::Root => Ok(true),
            Authority::Anonymous => Ok(false),
            Authority::Session(session) => {
                self.session_allows(session, &action.to_string(), resource)
                    .await
            }
        }
    }
}

/// AWS's wording of a denial.
fn denied(caller: &Caller, action: Action, resource: &str) -> Error {
    let who = caller.arn();
    Error::AccessDenied(if resource == ANY_RESOURCE {
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
