//! IAM policy documents: parsing, validation and evaluation. Pure, no I/O.
//!
//! ```
//! use cognate_policy::{Policy, PolicyKind, RequestContext, EvalDecision, evaluate};
//!
//! let doc = r#"{
//!   "Version": "2012-10-17",
//!   "Statement": [{
//!     "Effect": "Allow",
//!     "Action": "cognito-identity:List*",
//!     "Resource": "*"
//!   }]
//! }"#;
//! let policy = Policy::parse(doc, PolicyKind::Identity, 6144).unwrap();
//! let ctx = RequestContext::new(
//!     "cognito-identity:ListIdentityPools",
//!     "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/*",
//! );
//! assert_eq!(evaluate(&[&policy], &ctx).effect, EvalDecision::Allowed);
//! ```
//!
//! Modules, by idea:
//! * [`model`] / `parse` — the document model and the JSON validator;
//! * `wildcard` — compiled `*`/`?` patterns (action, resource, `StringLike`, ARN);
//! * [`condition`] — condition operators and their semantics;
//! * `variables` — `${...}` policy variables;
//! * [`principal`] — `Principal` matching;
//! * [`context`] — the request being authorized;
//! * [`eval`] — the decision logic and its explanation.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
#![warn(missing_docs)]

pub mod condition;
pub mod context;
mod error;
pub mod eval;
pub mod model;
mod parse;
pub mod principal;
mod variables;
mod wildcard;

pub use condition::{BaseOperator, ConditionEntry, ConditionOperator, SetQualifier};
pub use context::{ContextKeys, RequestContext, RequestPrincipal};
pub use error::{MalformedKind, MalformedPolicy};
pub use eval::{
    Decision, EvalDecision, MatchedStatement, PolicySource, evaluate, evaluate_trust,
    evaluate_with_session,
};
pub use model::{
    Effect, MANAGED_POLICY_MAX_SIZE, Policy, PolicyKind, PolicyVersion, RESOURCE_POLICY_MAX_SIZE,
    SESSION_POLICY_MAX_SIZE, Statement, TRUST_POLICY_MAX_SIZE,
};
pub use parse::policy_size;
pub use principal::{PrincipalMap, PrincipalSpec};

impl Policy {
    /// Parses and validates `doc` as a policy of the given kind.
    ///
    /// `max_size` is the quota in characters, whitespace not counted (as IAM
    /// counts); see [`PolicyKind::default_max_size`]. Exceeding it yields
    /// [`MalformedKind::TooLarge`].
    pub fn parse(doc: &str, kind: PolicyKind, max_size: usize) -> Result<Policy, MalformedPolicy> {
        parse::parse_policy(doc, kind, max_size)
    }
}
