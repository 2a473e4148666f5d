//! `cognate_policy::Policy::parse` for every kind, then evaluation.
//!
//! Input: first byte picks the kind (mod 4), then the document up to a line
//! `---`; after it, optional context lines: `action`, `resource`,
//! `principal` (`aws:ARN`, `fed:NAME`, `svc:NAME`, `*`), then `key=value`
//! pairs. A document that parses must be within its size quota, have
//! statements, and evaluate without panic under identity, session and
//! trust evaluation.
#![no_main]

use cognate_policy::{
    Policy, PolicyKind, RequestContext, RequestPrincipal, evaluate, evaluate_trust,
    evaluate_with_session, policy_size,
};
use libfuzzer_sys::fuzz_target;

const KINDS: [PolicyKind; 4] = [
    PolicyKind::Identity,
    PolicyKind::Session,
    PolicyKind::Trust,
    PolicyKind::Resource,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(selector) % 4];
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (doc, ctx_text) = text.split_once("\n---\n").unwrap_or((text, ""));
    let max = if selector & 0x80 != 0 {
        usize::from(selector & 0x3f) * 16
    } else {
        kind.default_max_size()
    };
    let policy = match Policy::parse(doc, kind, max) {
        Ok(p) => p,
        Err(e) => {
            let _ = (
                e.to_string(),
                e.kind(),
                e.message(),
                e.statement_index(),
                e.sid(),
                e.field(),
            );
            return;
        }
    };
    assert!(policy_size(doc) <= max, "accepted a policy over its quota");
    assert!(
        !policy.statements().is_empty(),
        "accepted a policy without statements"
    );
    let again = Policy::parse(doc, kind, max).expect("parsing is deterministic");
    assert_eq!(again.statements().len(), policy.statements().len());
    let _ = policy.context_keys();

    let mut lines = ctx_text.lines();
    let action = lines.next().unwrap_or("cognito-identity:GetId");
    let resource = lines.next().unwrap_or("*");
    let principal = match lines.next().unwrap_or("") {
        "*" | "" => RequestPrincipal::Anonymous,
        p => {
            if let Some(a) = p.strip_prefix("aws:") {
                RequestPrincipal::Aws(a.into())
            } else if let Some(f) = p.strip_prefix("fed:") {
                RequestPrincipal::Federated(f.into())
            } else if let Some(s) = p.strip_prefix("svc:") {
                RequestPrincipal::Service(s.into())
            } else {
                RequestPrincipal::CanonicalUser(p.into())
            }
        }
    };
    let mut ctx = RequestContext::new(action, resource).with_principal(principal);
    for line in lines {
        if let Some((k, v)) = line.split_once('=') {
            ctx = ctx.with_key(k, v);
        }
    }
    let d = evaluate(&[&policy], &ctx);
    let _ = (d.is_allowed(), d.effect.as_iam_str());
    let t = evaluate_trust(&policy, &ctx);
    assert_eq!(t.effect, d.effect, "evaluate_trust differs from evaluate");
    let s = evaluate_with_session(&[&policy], &[&policy], &ctx);
    assert_eq!(
        s.effect, d.effect,
        "a policy intersected with itself changed the decision"
    );
    let none = evaluate_with_session(&[&policy], &[], &ctx);
    assert_eq!(
        none.effect, d.effect,
        "no session policies changed the decision"
    );
});
