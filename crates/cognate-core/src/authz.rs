//! What temporary credentials may do: the role's policies, narrowed by the
//! session's policies, evaluated by the `cognate-policy` engine.

use cognate_policy::{Policy, PolicyKind, RequestContext, RequestPrincipal, evaluate_with_session};

use crate::error::Result;
use crate::service::Cognate;
use crate::session::Session;
use crate::trust::INLINE_POLICY_MAX;

impl Cognate {
    /// Whether `session` may perform `action` (`service:Operation`) on
    /// `resource`.
    pub async fn session_allows(
        &self,
        session: &Session,
        action: &str,
        resource: &str,
    ) -> Result<bool> {
        let Some(role) = self.role_by_arn(&session.role_arn).await? else {
            return Ok(false);
        };
        // A role deleted and recreated under the same name is another role.
        if role.role_id != session.role_id {
            return Ok(false);
        }
        let identity: Vec<Policy> = role
            .inline_policies
            .values()
            .filter_map(|doc| Policy::parse(doc, PolicyKind::Identity, INLINE_POLICY_MAX).ok())
            .collect();
        let scope: Vec<Policy> = session
            .session_policies
            .iter()
            .filter_map(|doc| Policy::parse(doc, PolicyKind::Session, INLINE_POLICY_MAX).ok())
            .collect();
        let p = &session.provider;
        let mut ctx = RequestContext::new(action, resource)
            .with_principal(RequestPrincipal::Aws(session.assumed_role_arn()))
            .with_key("aws:userid", session.user_id())
            .with_key("aws:PrincipalArn", role.arn.clone())
            .with_key(format!("{p}:aud"), session.audience.clone())
            .with_key(format!("{p}:sub"), session.subject.clone())
            .with_values(format!("{p}:amr"), session.amr.iter().cloned());
        for (key, value) in &session.principal_tags {
            ctx = ctx.with_key(format!("aws:PrincipalTag/{key}"), value.clone());
        }
        let identity_refs: Vec<&Policy> = identity.iter().collect();
        let scope_refs: Vec<&Policy> = scope.iter().collect();
        Ok(evaluate_with_session(&identity_refs, &scope_refs, &ctx).is_allowed())
    }
}
