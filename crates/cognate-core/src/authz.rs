//! What temporary credentials may do, and IAM's policy simulator.
//!
//! A session is judged by its role's identity policies (inline and
//! attached managed policies) narrowed by the session's policies: an
//! explicit deny in any policy refuses; otherwise the request needs an
//! allow from the role's policies **and**, when the session has policies,
//! an allow from at least one of them. The session policies of one
//! AssumeRole call (the inline `Policy` and the `PolicyArns`) act together
//! as one set, as in AWS, so several of them widen each other rather than
//! intersect.

use std::sync::Arc;

use cognate_policy::{
    Decision, EvalDecision, Policy, PolicyKind, PolicySource, RequestContext, RequestPrincipal,
    evaluate,
};

use crate::access::{ANY_RESOURCE, Caller};
use crate::arn::parse_role_arn;
use crate::config_cache::CachedRole;
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::operation::Operation;
use crate::service::Cognate;
use crate::session::Session;
use crate::trust::INLINE_POLICY_MAX;

/// The guest scope-down policy, parsed once.
static GUEST_SCOPE_DOWN: std::sync::LazyLock<Option<Policy>> = std::sync::LazyLock::new(|| {
    Policy::parse(
        crate::credentials::GUEST_SCOPE_DOWN_POLICY,
        PolicyKind::Session,
        SIMULATION_POLICY_MAX,
    )
    .ok()
});

/// Largest document a simulation accepts (IAM's `policyDocumentType`).
pub const SIMULATION_POLICY_MAX: usize = 131_072;

/// Identity policies intersected with one set of scope-down policies
/// (session policies or a permissions boundary).
pub fn evaluate_scoped(identity: &[&Policy], scope: &[&Policy], ctx: &RequestContext) -> Decision {
    let id = evaluate(identity, ctx);
    if scope.is_empty() {
        return id;
    }
    let mut sc = evaluate(scope, ctx);
    for m in &mut sc.matched_statements {
        m.source = PolicySource::Session;
    }
    let mut missing = id.missing_context_keys;
    for key in sc.missing_context_keys {
        if !missing.contains(&key) {
            missing.push(key);
        }
    }
    let effect =
        if id.effect == EvalDecision::ExplicitDeny || sc.effect == EvalDecision::ExplicitDeny {
            EvalDecision::ExplicitDeny
        } else if id.effect == EvalDecision::Allowed && sc.effect == EvalDecision::Allowed {
            EvalDecision::Allowed
        } else {
            EvalDecision::ImplicitDeny
        };
    // The deciding statements of both, moved rather than copied: this
    // runs for every signed request of a session with a scope-down.
    let matched_statements = match effect {
        EvalDecision::ImplicitDeny => Vec::new(),
        other => {
            let mut matched = id.matched_statements;
            matched.extend(sc.matched_statements);
            matched.retain(|m| {
                (other == EvalDecision::ExplicitDeny) == (m.effect == cognate_policy::Effect::Deny)
            });
            matched
        }
    };
    Decision {
        effect,
        matched_statements,
        missing_context_keys: missing,
    }
}

/// A role's identity policies, parsed, and the context keys they read.
#[derive(Debug)]
pub(crate) struct RolePermissions {
    policies: Vec<Policy>,
    /// Lower-cased, each once.
    context_keys: Vec<String>,
}

/// The context keys the policies of one decision read: only these are
/// made, since formatting every key for every signed request costs more
/// than most evaluations.
struct KeysRead<'a>(Vec<&'a str>);

impl<'a> KeysRead<'a> {
    fn of(role: &'a RolePermissions, scopes: [&'a [String]; 2]) -> KeysRead<'a> {
        let mut read: Vec<&str> = role.context_keys.iter().map(String::as_str).collect();
        for key in scopes.into_iter().flatten() {
            if !read.contains(&key.as_str()) {
                read.push(key);
            }
        }
        KeysRead(read)
    }

    /// Whether a policy reads `key_lc` (already lower-cased).
    fn wants(&self, key_lc: &str) -> bool {
        self.0.contains(&key_lc)
    }

    /// Whether a policy reads `key`, whatever its case.
    fn wants_any_case(&self, key: &str) -> bool {
        !self.0.is_empty() && self.wants(&key.to_lowercase())
    }
}

fn lowercase_keys(policies: &[&Policy]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for key in policies.iter().flat_map(|p| p.context_keys()) {
        let key = key.to_lowercase();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

static GUEST_SCOPE_DOWN_KEYS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| lowercase_keys(&GUEST_SCOPE_DOWN.iter().collect::<Vec<_>>()));

impl Cognate {
    /// A role's identity policies, parsed: its inline policies and the
    /// default versions of its attached managed policies (policies deleted
    /// meanwhile, or that no longer parse, grant nothing).
    async fn identity_policies(&self, role: &CachedRole) -> Result<Arc<RolePermissions>> {
        let load = async {
            let mut policies: Vec<Policy> = role
                .role
                .inline_policies
                .values()
                .filter_map(|doc| Policy::parse(doc, PolicyKind::Identity, INLINE_POLICY_MAX).ok())
                .collect();
            for (_, doc) in self.attached_policy_documents(&role.role).await? {
                if let Ok(p) = Policy::parse(&doc, PolicyKind::Identity, SIMULATION_POLICY_MAX) {
                    policies.push(p);
                }
            }
            let context_keys = lowercase_keys(&policies.iter().collect::<Vec<_>>());
            Ok::<_, Error>(Arc::new(RolePermissions {
                policies,
                context_keys,
            }))
        };
        role.permissions.get_or_try_init(|| load).await.cloned()
    }

    /// Whether `session` (the authority of `caller`) may perform `action`
    /// (`service:Operation`) on `resource`, given the request's condition
    /// keys besides the caller's own.
    pub async fn session_allows(
        &self,
        caller: &Caller,
        session: &Session,
        action: &str,
        resource: &str,
        keys: &[(String, Vec<String>)],
    ) -> Result<bool> {
        Ok(self
            .session_decision(caller, session, action, resource, keys)
            .await?
            .is_some_and(|d| d.is_allowed()))
    }

    /// The full decision for a request signed with `session` (the
    /// authority of `caller`, whose region and origin are the request's
    /// `aws:RequestedRegion`, `aws:SourceIp` and `aws:SecureTransport`);
    /// `None` when the session's role no longer exists (or is another role
    /// now).
    pub async fn session_decision(
        &self,
        caller: &Caller,
        session: &Session,
        action: &str,
        resource: &str,
        keys: &[(String, Vec<String>)],
    ) -> Result<Option<Decision>> {
        let view = self.config_view().await?;
        let Some(role) = self.cached_role_by_arn(&view, &session.role_arn).await? else {
            return Ok(None);
        };
        // A role deleted and recreated under the same name is another role.
        if role.role.role_id != session.role_id {
            return Ok(None);
        }
        let identity = self.identity_policies(&role).await?;
        // Session policies were validated when the session was made; one
        // that no longer parses must still narrow, so it denies everything.
        let mut parsed: Vec<Policy> = Vec::with_capacity(session.session_policies.len());
        let mut unreadable_scope = false;
        for doc in &session.session_policies {
            match Policy::parse(doc, PolicyKind::Session, SIMULATION_POLICY_MAX) {
                Ok(p) => parsed.push(p),
                Err(_) => unreadable_scope = true,
            }
        }
        let mut scope: Vec<&Policy> = parsed.iter().collect();
        let scope_keys = lowercase_keys(&scope);
        let mut guest_keys: &[String] = &[];
        if session.guest_scope_down {
            match &*GUEST_SCOPE_DOWN {
                Some(policy) => scope.push(policy),
                None => unreadable_scope = true,
            }
            guest_keys = &GUEST_SCOPE_DOWN_KEYS;
        }
        if unreadable_scope && scope.is_empty() {
            return Ok(Some(Decision {
                effect: EvalDecision::ImplicitDeny,
                matched_statements: Vec::new(),
                missing_context_keys: Vec::new(),
            }));
        }
        let read = KeysRead::of(&identity, [&scope_keys, guest_keys]);
        let ctx = self.session_context(&read, caller, session, &role, action, resource, keys);
        let identity_refs: Vec<&Policy> = identity.policies.iter().collect();
        Ok(Some(evaluate_scoped(&identity_refs, &scope, &ctx)))
    }

    /// The request as the policies of a session's decision see it, with
    /// the context keys they read.
    #[allow(clippy::too_many_arguments)]
    fn session_context(
        &self,
        read: &KeysRead<'_>,
        caller: &Caller,
        session: &Session,
        role: &CachedRole,
        action: &str,
        resource: &str,
        keys: &[(String, Vec<String>)],
    ) -> RequestContext {
        let mut ctx = RequestContext::new(action, resource)
            .with_principal(RequestPrincipal::Aws(session.assumed_role_arn()));
        if read.0.is_empty() {
            return ctx;
        }
        let k = &mut ctx.keys;
        if read.wants("aws:userid") {
            k.insert("aws:userid", session.user_id());
        }
        if read.wants("aws:principalarn") {
            k.insert("aws:PrincipalArn", role.role.arn.clone());
        }
        if read.wants("aws:principalaccount") {
            k.insert("aws:PrincipalAccount", session.account.clone());
        }
        if read.wants("aws:principaltype") {
            k.insert("aws:PrincipalType", "AssumedRole");
        }
        let now = self.clock.now_secs();
        if read.wants("aws:epochtime") {
            k.insert("aws:EpochTime", now.to_string());
        }
        if read.wants("aws:currenttime") {
            let time = chrono::DateTime::from_timestamp(now, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            k.insert("aws:CurrentTime", time);
        }
        if read.wants("aws:requestedregion") {
            k.insert("aws:RequestedRegion", caller.region.clone());
        }
        if let Some(origin) = &caller.origin {
            if read.wants("aws:sourceip") {
                k.insert("aws:SourceIp", origin.source_ip.to_string());
            }
            if read.wants("aws:securetransport") {
                k.insert("aws:SecureTransport", origin.secure_transport.to_string());
            }
        }
        // Each key is written into one buffer to ask whether it is read:
        // most are not, and this runs for every signed call.
        let p = &session.provider;
        let mut key = String::with_capacity(p.len() + 4);
        for (suffix, values) in [
            ("aud", std::slice::from_ref(&session.audience)),
            ("sub", std::slice::from_ref(&session.subject)),
            ("amr", session.amr.as_slice()),
        ] {
            key.clear();
            key.push_str(p);
            key.push(':');
            key.push_str(suffix);
            if read.wants_any_case(&key) {
                k.set(&key, values.iter().cloned());
            }
        }
        for (tag, value) in &session.principal_tags {
            key.clear();
            key.push_str("aws:PrincipalTag/");
            key.push_str(tag);
            if read.wants_any_case(&key) {
                k.insert(&key, value.clone());
            }
        }
        for (key, values) in keys {
            if read.wants_any_case(key) {
                k.set(key, values.iter().cloned());
            }
        }
        ctx
    }
}

// ---- SimulatePrincipalPolicy / SimulateCustomPolicy ----

/// What a simulation asks.
#[derive(Debug, Clone, Default)]
pub struct Simulation {
    /// SimulatePrincipalPolicy: the role whose policies are simulated.
    pub policy_source_arn: Option<String>,
    /// Extra identity policies (SimulateCustomPolicy: the only ones).
    pub policy_input_list: Vec<String>,
    /// A permissions boundary: the identity policies are narrowed by it.
    pub permissions_boundary_policy_input_list: Vec<String>,
    pub action_names: Vec<String>,
    /// Default `*`.
    pub resource_arns: Vec<String>,
    /// Context keys and their values (`ContextEntries`).
    pub context: Vec<(String, Vec<String>)>,
    /// The principal the request is simulated for (`CallerArn`).
    pub caller_arn: Option<String>,
}

/// The statement of a policy that decided a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedPolicy {
    /// The policy's name (inline and managed policies) or
    /// `PolicyInputList.N` / `PermissionsBoundaryPolicyInputList.N`.
    pub source_policy_id: String,
    /// `role`, `user-managed`, `none` (policies given in the request).
    pub source_policy_type: &'static str,
}

/// One (action, resource) result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationResult {
    pub action: String,
    pub resource: String,
    pub decision: EvalDecision,
    pub matched: Vec<MatchedPolicy>,
    /// Context keys the deciding statements needed but were not given, as
    /// the policies spell them.
    pub missing_context_values: Vec<String>,
    /// Set when a permissions boundary was simulated.
    pub allowed_by_permissions_boundary: Option<bool>,
    /// The statements that decided, each named (the console's "why").
    pub statements: Vec<DecidingStatement>,
}

/// What the simulator found for an identity.
#[derive(Debug, Clone)]
pub struct IdentitySimulation {
    /// The role it would get.
    pub role_arn: String,
    /// A guest: the guest scope-down session policy applied.
    pub guest: bool,
    pub results: Vec<SimulationResult>,
}

/// One statement that decided a result: its policy and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidingStatement {
    pub policy_id: String,
    pub policy_type: &'static str,
    /// Index of the statement in its policy (0-based).
    pub statement_index: usize,
    pub sid: Option<String>,
    pub effect: cognate_policy::Effect,
}

struct Source {
    id: String,
    kind: &'static str,
    policy: Policy,
}

fn parse_input(doc: &str, id: String, kind: PolicyKind) -> Result<Source> {
    let policy = Policy::parse(doc, kind, SIMULATION_POLICY_MAX)
        .map_err(|e| Error::InvalidInput(format!("{id} is not a valid policy: {e}")))?;
    Ok(Source {
        id,
        kind: "none",
        policy,
    })
}

fn simulate(
    mut sources: Vec<Source>,
    mut boundary: Vec<Source>,
    simulation: &Simulation,
    principal: RequestPrincipal,
) -> Result<Vec<SimulationResult>> {
    for (i, doc) in simulation.policy_input_list.iter().enumerate() {
        sources.push(parse_input(
            doc,
            format!("PolicyInputList.{}", i + 1),
            PolicyKind::Identity,
        )?);
    }
    for (i, doc) in simulation
        .permissions_boundary_policy_input_list
        .iter()
        .enumerate()
    {
        boundary.push(parse_input(
            doc,
            format!("PermissionsBoundaryPolicyInputList.{}", i + 1),
            PolicyKind::Identity,
        )?);
    }
    let identity: Vec<&Policy> = sources.iter().map(|s| &s.policy).collect();
    let scope: Vec<&Policy> = boundary.iter().map(|s| &s.policy).collect();
    // Context keys as the policies spell them, for MissingContextValues.
    let spelled: Vec<String> = sources
        .iter()
        .chain(&boundary)
        .flat_map(|s| s.policy.context_keys())
        .collect();
    let resources: Vec<String> = if simulation.resource_arns.is_empty() {
        vec!["*".to_string()]
    } else {
        simulation.resource_arns.clone()
    };
    let mut results = Vec::new();
    for action in &simulation.action_names {
        for resource in &resources {
            let mut ctx = RequestContext::new(action.clone(), resource.clone())
                .with_principal(principal.clone());
            for (key, values) in &simulation.context {
                ctx = ctx.with_values(key, values.iter().cloned());
            }
            let decision = evaluate_scoped(&identity, &scope, &ctx);
            let statements = decision
                .matched_statements
                .iter()
                .filter_map(|m| {
                    let list = match m.source {
                        PolicySource::Primary => &sources,
                        PolicySource::Session => &boundary,
                    };
                    list.get(m.policy_index).map(|s| DecidingStatement {
                        policy_id: s.id.clone(),
                        policy_type: s.kind,
                        statement_index: m.statement_index,
                        sid: m.sid.clone(),
                        effect: m.effect,
                    })
                })
                .collect();
            let matched = decision
                .matched_statements
                .iter()
                .filter_map(|m| {
                    let list = match m.source {
                        PolicySource::Primary => &sources,
                        PolicySource::Session => &boundary,
                    };
                    list.get(m.policy_index).map(|s| MatchedPolicy {
                        source_policy_id: s.id.clone(),
                        source_policy_type: s.kind,
                    })
                })
                .fold(Vec::new(), |mut acc: Vec<MatchedPolicy>, m| {
                    if !acc.contains(&m) {
                        acc.push(m);
                    }
                    acc
                });
            let missing = decision
                .missing_context_keys
                .iter()
                .map(|lc| {
                    spelled
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(lc))
                        .cloned()
                        .unwrap_or_else(|| lc.clone())
                })
                .collect();
            let allowed_by_permissions_boundary = (!scope.is_empty()).then(|| {
                let b = evaluate(&scope, &ctx);
                b.effect == EvalDecision::Allowed
            });
            results.push(SimulationResult {
                action: action.clone(),
                resource: resource.clone(),
                decision: decision.effect,
                matched,
                missing_context_values: missing,
                allowed_by_permissions_boundary,
                statements,
            });
        }
    }
    Ok(results)
}

impl Iam<'_> {
    /// SimulatePrincipalPolicy for a role: its inline and attached managed
    /// policies plus any `PolicyInputList`.
    pub async fn simulate_principal_policy(
        &self,
        caller: &Caller,
        simulation: &Simulation,
    ) -> Result<Vec<SimulationResult>> {
        let arn = simulation.policy_source_arn.as_deref().unwrap_or_default();
        self.authorize(caller, Operation::SimulatePrincipalPolicy, arn)
            .await?;
        if parse_role_arn(arn).is_none() {
            return Err(Error::InvalidInput(format!(
                "Invalid PolicySourceArn {arn}: this server simulates roles only (it has no IAM users or groups)."
            )));
        }
        let sources = self.role_sources(caller, arn).await?;
        let role_arn = arn.to_string();
        let principal = simulation.caller_arn.clone().unwrap_or(role_arn);
        simulate(
            sources,
            Vec::new(),
            simulation,
            RequestPrincipal::Aws(principal),
        )
    }

    /// A role's inline and attached managed policies, as simulation
    /// sources (a policy that no longer parses is left out, as IAM does).
    async fn role_sources(&self, caller: &Caller, arn: &str) -> Result<Vec<Source>> {
        let role = match self.role_by_arn(arn).await? {
            Some(role) if role.account == caller.account => role,
            _ => {
                let name = parse_role_arn(arn).map(|(_, _, n)| n).unwrap_or(arn);
                return Err(Error::ResourceNotFound(format!(
                    "The role with name {name} cannot be found."
                )));
            }
        };
        let mut sources = Vec::new();
        for (name, doc) in &role.inline_policies {
            if let Ok(policy) = Policy::parse(doc, PolicyKind::Identity, SIMULATION_POLICY_MAX) {
                sources.push(Source {
                    id: name.clone(),
                    kind: "role",
                    policy,
                });
            }
        }
        for (name, doc) in self.attached_policy_documents(&role).await? {
            if let Ok(policy) = Policy::parse(&doc, PolicyKind::Identity, SIMULATION_POLICY_MAX) {
                sources.push(Source {
                    id: name,
                    kind: "user-managed",
                    policy,
                });
            }
        }
        Ok(sources)
    }

    /// The console's simulator for an identity: the role
    /// GetCredentialsForIdentity would give it without a token (a guest's
    /// the pool's unauthenticated role, scoped down by the guest session
    /// policy; an identity with logins the authenticated role, as role
    /// mappings read token claims the console does not have), with the
    /// session's own context keys (`cognito-identity.amazonaws.com:aud`,
    /// `:sub`, `:amr`) added unless given.
    pub async fn simulate_identity(
        &self,
        caller: &Caller,
        identity_id: &str,
        simulation: &Simulation,
    ) -> Result<IdentitySimulation> {
        let identity = self.identities().describe(caller, identity_id).await?;
        let pool = self.pools().roles(caller, &identity.pool_id).await?;
        let guest = identity.logins.is_empty();
        let kind = if guest {
            "unauthenticated"
        } else {
            "authenticated"
        };
        let role_arn = pool.roles.get(kind).cloned().ok_or_else(|| {
            Error::InvalidIdentityPoolConfiguration(
                "Invalid identity pool configuration. Check assigned IAM roles for this pool."
                    .into(),
            )
        })?;
        self.authorize(caller, Operation::SimulatePrincipalPolicy, &role_arn)
            .await?;
        let sources = self.role_sources(caller, &role_arn).await?;
        let mut scope = Vec::new();
        if guest {
            let policy = Policy::parse(
                crate::credentials::GUEST_SCOPE_DOWN_POLICY,
                PolicyKind::Identity,
                SIMULATION_POLICY_MAX,
            )
            .map_err(|e| Error::Internal(format!("the guest scope-down policy: {e}")))?;
            scope.push(Source {
                id: "Guest scope-down session policy".into(),
                kind: "session",
                policy,
            });
        }
        let mut simulation = simulation.clone();
        let amr = if guest {
            vec!["unauthenticated".to_string()]
        } else {
            let mut amr = vec!["authenticated".to_string()];
            amr.extend(identity.logins.iter().map(|l| l.provider.clone()));
            amr
        };
        for (key, values) in [
            ("cognito-identity.amazonaws.com:aud", vec![pool.id.clone()]),
            (
                "cognito-identity.amazonaws.com:sub",
                vec![identity.id.clone()],
            ),
            ("cognito-identity.amazonaws.com:amr", amr),
        ] {
            if !simulation
                .context
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(key))
            {
                simulation.context.push((key.to_string(), values));
            }
        }
        let principal = simulation.caller_arn.clone().unwrap_or_else(|| {
            let name = parse_role_arn(&role_arn).map_or("", |(_, _, n)| n);
            format!(
                "arn:aws:sts::{}:assumed-role/{name}/{}",
                caller.account,
                crate::credentials::ENHANCED_FLOW_SESSION_NAME
            )
        });
        let results = simulate(
            sources,
            scope,
            &simulation,
            RequestPrincipal::Aws(principal),
        )?;
        Ok(IdentitySimulation {
            role_arn,
            guest,
            results,
        })
    }

    /// SimulateCustomPolicy: only the policies given.
    pub async fn simulate_custom_policy(
        &self,
        caller: &Caller,
        simulation: &Simulation,
    ) -> Result<Vec<SimulationResult>> {
        self.authorize(caller, Operation::SimulateCustomPolicy, ANY_RESOURCE)
            .await?;
        let principal = match &simulation.caller_arn {
            Some(arn) => RequestPrincipal::Aws(arn.clone()),
            None => RequestPrincipal::Anonymous,
        };
        simulate(Vec::new(), Vec::new(), simulation, principal)
    }
}
