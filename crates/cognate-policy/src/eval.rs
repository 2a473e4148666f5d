//! Policy evaluation: explicit deny > allow > implicit deny, with an
//! explanation of which statements decided the outcome.

use serde::Serialize;

use crate::context::RequestContext;
use crate::model::{Effect, Policy, ResourcePattern, Statement};
use crate::variables::MissingSink;
use crate::wildcard::{GlobMode, Pattern};

/// The outcome, named as IAM's `SimulatePrincipalPolicy` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EvalDecision {
    /// At least one applicable `Allow` and no applicable `Deny`.
    Allowed,
    /// At least one applicable `Deny`.
    ExplicitDeny,
    /// Nothing allowed the request (or a session policy did not).
    ImplicitDeny,
}

impl EvalDecision {
    /// `"allowed"`, `"explicitDeny"` or `"implicitDeny"` (the IAM wire values).
    pub fn as_iam_str(self) -> &'static str {
        match self {
            EvalDecision::Allowed => "allowed",
            EvalDecision::ExplicitDeny => "explicitDeny",
            EvalDecision::ImplicitDeny => "implicitDeny",
        }
    }
}

/// Which argument list a matched policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum PolicySource {
    /// The `policies` of [`evaluate`], the identity policies of
    /// [`evaluate_with_session`], or the trust policy of [`evaluate_trust`].
    Primary,
    /// The session policies of [`evaluate_with_session`].
    Session,
}

/// A statement that determined the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedStatement {
    /// Which policy list the statement is in.
    pub source: PolicySource,
    /// Index of the policy within its list.
    pub policy_index: usize,
    /// The policy's `Id`, if it has one.
    pub policy_id: Option<String>,
    /// Index of the statement within the policy.
    pub statement_index: usize,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<String>,
    /// The statement's effect.
    pub effect: Effect,
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Allowed / explicit deny / implicit deny.
    pub effect: EvalDecision,
    /// For `ExplicitDeny`: every applicable `Deny` statement. For `Allowed`:
    /// every applicable `Allow` statement (identity and session). Empty for
    /// `ImplicitDeny`.
    pub matched_statements: Vec<MatchedStatement>,
    /// Lower-cased context keys that a statement whose action, resource and
    /// principal matched wanted to read but the request did not supply (what
    /// `SimulatePrincipalPolicy` reports as `MissingContextValues`).
    pub missing_context_keys: Vec<String>,
}

impl Decision {
    /// True only for [`EvalDecision::Allowed`].
    pub fn is_allowed(&self) -> bool {
        self.effect == EvalDecision::Allowed
    }
}

/// Request data derived once per evaluation. The characters are made
/// only for patterns that need them (most match on the text itself).
struct Prepared<'a> {
    ctx: &'a RequestContext,
    action_lc: &'a str,
    action_chars: std::cell::OnceCell<Vec<char>>,
    resource_chars: std::cell::OnceCell<Vec<char>>,
}

impl<'a> Prepared<'a> {
    /// `action_lc`: the lower-cased action (`LowerCase::of(&ctx.action)`).
    fn new(ctx: &'a RequestContext, action_lc: &'a str) -> Self {
        Prepared {
            ctx,
            action_lc,
            action_chars: std::cell::OnceCell::new(),
            resource_chars: std::cell::OnceCell::new(),
        }
    }

    fn action_chars(&self) -> &[char] {
        self.action_chars
            .get_or_init(|| self.action_lc.chars().collect())
    }

    fn resource_chars(&self) -> &[char] {
        self.resource_chars
            .get_or_init(|| self.ctx.resource.chars().collect())
    }
}

/// `str::to_lowercase` of an action, on the stack when it is ASCII and
/// short (every action IAM knows is): made for every evaluation.
enum LowerCase {
    Inline { bytes: [u8; 128], len: usize },
    Heap(String),
}

impl LowerCase {
    fn of(text: &str) -> LowerCase {
        let mut bytes = [0u8; 128];
        if text.is_ascii()
            && let Some(lower) = bytes.get_mut(..text.len())
        {
            lower.copy_from_slice(text.as_bytes());
            // For ASCII, the same as `to_lowercase`.
            lower.make_ascii_lowercase();
            return LowerCase::Inline {
                bytes,
                len: text.len(),
            };
        }
        LowerCase::Heap(text.to_lowercase())
    }

    fn as_str(&self) -> &str {
        match self {
            LowerCase::Inline { bytes, len } => bytes
                .get(..*len)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            LowerCase::Heap(text) => text,
        }
    }
}

#[derive(Default)]
struct MissingKeys(Vec<String>);

impl MissingSink for MissingKeys {
    fn missing(&mut self, key_lc: &str) {
        if !self.0.iter().any(|k| k == key_lc) {
            self.0.push(key_lc.to_owned());
        }
    }
}

impl Statement {
    /// Whether this statement applies to the request (action, resource,
    /// principal and all conditions match), regardless of its effect.
    pub fn applies_to(&self, ctx: &RequestContext) -> bool {
        let action_lc = LowerCase::of(&ctx.action);
        self.applies(&Prepared::new(ctx, action_lc.as_str()), &mut ())
    }

    fn applies(&self, p: &Prepared<'_>, sink: &mut dyn MissingSink) -> bool {
        if !self.action_matches(p) || !self.principal_matches(p) {
            return false;
        }
        if !self.resource_matches(p, sink) {
            return false;
        }
        // Evaluate every entry (no short-circuit) so all missing keys are reported.
        let mut all_hold = true;
        for c in &self.conditions {
            if !c.evaluate(&p.ctx.keys, &mut *sink) {
                all_hold = false;
            }
        }
        all_hold
    }

    fn action_matches(&self, p: &Prepared<'_>) -> bool {
        let any = self
            .action
            .patterns
            .iter()
            .any(|pat| pat.matches_chars(p.action_lc, || p.action_chars()));
        any != self.action.negated
    }

    fn principal_matches(&self, p: &Prepared<'_>) -> bool {
        match &self.principal {
            None => true,
            Some(block) => block.spec.matches(&p.ctx.principal) != block.negated,
        }
    }

    fn resource_matches(&self, p: &Prepared<'_>, sink: &mut dyn MissingSink) -> bool {
        let Some(block) = &self.resource else {
            return true;
        };
        let resource = p.ctx.resource.as_str();
        let mut unresolved = false;
        for pat in &block.patterns {
            let m = match pat {
                ResourcePattern::Static(compiled) => {
                    Some(compiled.matches_chars(resource, || p.resource_chars()))
                }
                ResourcePattern::Dynamic(tpl) => tpl
                    .resolve_tokens(&p.ctx.keys, &mut *sink)
                    .map(|toks| Pattern::from_tokens(toks, GlobMode::Resource).matches(resource)),
            };
            match m {
                // Resource: one match suffices; NotResource: one match excludes.
                Some(true) => return !block.negated,
                Some(false) => {}
                None => unresolved = true,
            }
        }
        // Nothing matched. For NotResource an unresolvable variable makes the
        // statement inapplicable rather than silently widening it.
        block.negated && !unresolved
    }
}

#[derive(Default)]
struct Scan {
    allows: Vec<MatchedStatement>,
    denies: Vec<MatchedStatement>,
    missing: MissingKeys,
}

impl Scan {
    fn run(&mut self, policies: &[&Policy], source: PolicySource, p: &Prepared<'_>) {
        for (policy_index, policy) in policies.iter().enumerate() {
            for st in &policy.statements {
                if st.applies(p, &mut self.missing) {
                    let m = MatchedStatement {
                        source,
                        policy_index,
                        policy_id: policy.id.clone(),
                        statement_index: st.index,
                        sid: st.sid.clone(),
                        effect: st.effect,
                    };
                    match st.effect {
                        Effect::Allow => self.allows.push(m),
                        Effect::Deny => self.denies.push(m),
                    }
                }
            }
        }
    }
}

/// Evaluates identity-based (or any single set of) policies: an applicable
/// `Deny` anywhere wins, otherwise an applicable `Allow` grants, otherwise the
/// request is implicitly denied.
pub fn evaluate(policies: &[&Policy], ctx: &RequestContext) -> Decision {
    let action_lc = LowerCase::of(&ctx.action);
    let p = Prepared::new(ctx, action_lc.as_str());
    let mut scan = Scan::default();
    scan.run(policies, PolicySource::Primary, &p);
    let missing_context_keys = scan.missing.0;
    if !scan.denies.is_empty() {
        Decision {
            effect: EvalDecision::ExplicitDeny,
            matched_statements: scan.denies,
            missing_context_keys,
        }
    } else if !scan.allows.is_empty() {
        Decision {
            effect: EvalDecision::Allowed,
            matched_statements: scan.allows,
            missing_context_keys,
        }
    } else {
        Decision {
            effect: EvalDecision::ImplicitDeny,
            matched_statements: Vec::new(),
            missing_context_keys,
        }
    }
}

/// Evaluates identity policies intersected with session policies: an
/// applicable `Deny` in any policy wins; otherwise the request is allowed only
/// if some identity policy allows it **and every** session policy allows it.
/// With an empty `session` list this is exactly [`evaluate`].
pub fn evaluate_with_session(
    identity: &[&Policy],
    session: &[&Policy],
    ctx: &RequestContext,
) -> Decision {
    let action_lc = LowerCase::of(&ctx.action);
    let p = Prepared::new(ctx, action_lc.as_str());
    let mut id_scan = Scan::default();
    id_scan.run(identity, PolicySource::Primary, &p);
    let mut s_scan = Scan {
        missing: id_scan.missing,
        ..Scan::default()
    };
    s_scan.run(session, PolicySource::Session, &p);
    let missing_context_keys = s_scan.missing.0;

    if !id_scan.denies.is_empty() || !s_scan.denies.is_empty() {
        let mut matched = id_scan.denies;
        matched.extend(s_scan.denies);
        return Decision {
            effect: EvalDecision::ExplicitDeny,
            matched_statements: matched,
            missing_context_keys,
        };
    }
    let every_session_allows =
        (0..session.len()).all(|i| s_scan.allows.iter().any(|m| m.policy_index == i));
    if !id_scan.allows.is_empty() && every_session_allows {
        let mut matched = id_scan.allows;
        matched.extend(s_scan.allows);
        Decision {
            effect: EvalDecision::Allowed,
            matched_statements: matched,
            missing_context_keys,
        }
    } else {
        Decision {
            effect: EvalDecision::ImplicitDeny,
            matched_statements: Vec::new(),
            missing_context_keys,
        }
    }
}

/// Evaluates a role trust policy, e.g. for `sts:AssumeRoleWithWebIdentity`
/// (build the context with [`RequestContext::assume_role_with_web_identity`]
/// and add the provider's keys such as `cognito-identity.amazonaws.com:aud`
/// and the multi-valued `cognito-identity.amazonaws.com:amr`). Statements only
/// apply when their `Principal`/`NotPrincipal` matches the request principal.
pub fn evaluate_trust(trust: &Policy, ctx: &RequestContext) -> Decision {
    evaluate(&[trust], ctx)
}

impl Policy {
    /// Evaluates this policy alone; same as `evaluate(&[self], ctx)`.
    pub fn evaluate(&self, ctx: &RequestContext) -> Decision {
        evaluate(&[self], ctx)
    }
}
