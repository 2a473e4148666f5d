//! The roles of an identity pool: its authenticated and guest roles and
//! its role mappings (SetIdentityPoolRoles). The form becomes the API's
//! SetIdentityPoolRoles body and goes through the API's own checks
//! (`cognito::checked_role_settings`) and the domain's `set_roles`, so a
//! refusal reads as AWS's and nothing is saved. Without JavaScript, the
//! form has blank rule rows and "Add a rule" / "Add a provider" submit
//! buttons that show it again with one more.
//!
//! The trust warnings are AWS console's: a role whose trust policy lets
//! `cognito-identity.amazonaws.com` assume it without an
//! `cognito-identity.amazonaws.com:aud` condition trusts every pool's
//! identities, and one without an `:amr` condition does not tell guests
//! from signed-in users.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use cognate_core::model::{AmbiguousRoleResolution, MatchType, Pool, RoleMappingType};
use cognate_policy::{Policy, PolicyKind, PrincipalSpec};
use http::StatusCode;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::{Section, domain_error, error_message, page, respond, segment};
use crate::Shared;
use crate::guard::Signed;

/// Blank rule rows under a provider's rules.
const BLANK_RULES: usize = 2;
const COGNITO: &str = "cognito-identity.amazonaws.com";

/// One rule row as entered.
#[derive(Default, Clone)]
struct RuleRow {
    claim: String,
    match_type: String,
    value: String,
    role: String,
}

impl RuleRow {
    fn is_blank(&self) -> bool {
        self.claim.trim().is_empty() && self.value.trim().is_empty() && self.role.trim().is_empty()
    }
}

/// One provider's mapping as entered.
#[derive(Default, Clone)]
struct MappingBlock {
    provider: String,
    /// "" (none), "Token" or "Rules".
    mapping_type: String,
    /// "" (AWS's default, AuthenticatedRole), "AuthenticatedRole", "Deny".
    ambiguous: String,
    rules: Vec<RuleRow>,
}

/// The whole form as entered (kept when a refusal shows it again).
#[derive(Default, Clone)]
struct RolesForm {
    authenticated: String,
    unauthenticated: String,
    mappings: Vec<MappingBlock>,
}

fn match_name(m: MatchType) -> &'static str {
    match m {
        MatchType::Equals => "Equals",
        MatchType::Contains => "Contains",
        MatchType::StartsWith => "StartsWith",
        MatchType::NotEqual => "NotEqual",
    }
}

impl RolesForm {
    fn from_pool(pool: &Pool) -> RolesForm {
        let mappings = pool
            .role_mappings
            .iter()
            .map(|(provider, m)| MappingBlock {
                provider: provider.clone(),
                mapping_type: match m.mapping_type {
                    RoleMappingType::Token => "Token".into(),
                    RoleMappingType::Rules => "Rules".into(),
                },
                ambiguous: match m.ambiguous_role_resolution {
                    Some(AmbiguousRoleResolution::AuthenticatedRole) => "AuthenticatedRole".into(),
                    Some(AmbiguousRoleResolution::Deny) => "Deny".into(),
                    None => String::new(),
                },
                rules: m
                    .rules
                    .iter()
                    .flatten()
                    .map(|r| RuleRow {
                        claim: r.claim.clone(),
                        match_type: match_name(r.match_type).into(),
                        value: r.value.clone(),
                        role: r.role_arn.clone(),
                    })
                    .collect(),
            })
            .collect();
        RolesForm {
            authenticated: pool.roles.get("authenticated").cloned().unwrap_or_default(),
            unauthenticated: pool
                .roles
                .get("unauthenticated")
                .cloned()
                .unwrap_or_default(),
            mappings,
        }
    }

    /// The form's fields: `authenticated`, `unauthenticated`, and per
    /// provider block `m<i>.provider`, `m<i>.type`, `m<i>.ambiguous`,
    /// `m<i>.r<j>.claim|match|value|role`.
    fn from_fields(fields: &[(String, String)]) -> RolesForm {
        let mut form = RolesForm::default();
        let mut blocks: BTreeMap<usize, MappingBlock> = BTreeMap::new();
        let mut rows: BTreeMap<(usize, usize), RuleRow> = BTreeMap::new();
        for (name, value) in fields {
            let value = value.clone();
            match name.as_str() {
                "authenticated" => form.authenticated = value,
                "unauthenticated" => form.unauthenticated = value,
                _ => {
                    let Some(rest) = name.strip_prefix('m') else {
                        continue;
                    };
                    let Some((i, field)) = rest.split_once('.') else {
                        continue;
                    };
                    // Bounded: the form is at most 64 KiB, but indexes
                    // are anyone's to write.
                    let Ok(i) = i.parse::<usize>() else { continue };
                    if i >= 20 {
                        continue;
                    }
                    let block = blocks.entry(i).or_default();
                    match field {
                        "provider" => block.provider = value,
                        "type" => block.mapping_type = value,
                        "ambiguous" => block.ambiguous = value,
                        _ => {
                            let Some((j, part)) =
                                field.strip_prefix('r').and_then(|r| r.split_once('.'))
                            else {
                                continue;
                            };
                            let Ok(j) = j.parse::<usize>() else { continue };
                            if j >= 400 {
                                continue;
                            }
                            let row = rows.entry((i, j)).or_default();
                            match part {
                                "claim" => row.claim = value,
                                "match" => row.match_type = value,
                                "value" => row.value = value,
                                "role" => row.role = value,
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
        for ((i, _), row) in rows {
            if let Some(block) = blocks.get_mut(&i) {
                block.rules.push(row);
            }
        }
        form.mappings = blocks.into_values().collect();
        form
    }

    /// The SetIdentityPoolRoles body for these fields (without
    /// IdentityPoolId). A provider left blank, or set to no mapping, is
    /// left out; blank rule rows are left out; anything else goes to the
    /// API's checks as entered.
    fn input(&self) -> Value {
        let mut roles = Map::new();
        for (key, arn) in [
            ("authenticated", &self.authenticated),
            ("unauthenticated", &self.unauthenticated),
        ] {
            if !arn.trim().is_empty() {
                roles.insert(key.into(), json!(arn.trim()));
            }
        }
        let mut mappings = Map::new();
        for block in &self.mappings {
            let provider = block.provider.trim();
            if provider.is_empty() || block.mapping_type.is_empty() {
                continue;
            }
            let mut m = Map::new();
            m.insert("Type".into(), json!(block.mapping_type));
            if !block.ambiguous.is_empty() {
                m.insert("AmbiguousRoleResolution".into(), json!(block.ambiguous));
            }
            if block.mapping_type == "Rules" {
                let rules: Vec<Value> = block
                    .rules
                    .iter()
                    .filter(|r| !r.is_blank())
                    .map(|r| {
                        json!({
                            "Claim": r.claim.trim(),
                            "MatchType": r.match_type,
                            "Value": r.value.trim(),
                            "RoleARN": r.role.trim(),
                        })
                    })
                    .collect();
                m.insert("RulesConfiguration".into(), json!({ "Rules": rules }));
            }
            mappings.insert(provider.into(), Value::Object(m));
        }
        json!({ "Roles": roles, "RoleMappings": mappings })
    }
}

/// The pool's login provider keys (what a mapping is keyed by).
fn provider_keys(pool: &Pool) -> Vec<String> {
    let mut keys: Vec<String> = pool.supported_login_providers.keys().cloned().collect();
    keys.extend(
        pool.cognito_identity_providers
            .iter()
            .map(|p| format!("{}:{}", p.provider_name, p.client_id)),
    );
    keys.extend(pool.open_id_connect_provider_arns.iter().map(|arn| {
        arn.split_once(":oidc-provider/")
            .map_or(arn.clone(), |(_, host)| host.to_string())
    }));
    keys.extend(pool.saml_provider_arns.iter().cloned());
    keys
}

/// Whether an IAM action pattern (`*` and `?`, in any case) matches
/// `action`: `sts:AssumeRole*` lets Cognito in as surely as the full name.
fn action_matches(pattern: &str, action: &str) -> bool {
    let pattern: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let action: Vec<char> = action.to_ascii_lowercase().chars().collect();
    let (mut p, mut a) = (0, 0);
    // The last `*` seen and where in `action` it was tried from.
    let mut star: Option<(usize, usize)> = None;
    while a < action.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == action[a]) {
            p += 1;
            a += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, a));
            p += 1;
        } else if let Some((star_p, star_a)) = star {
            star = Some((star_p, star_a + 1));
            p = star_p + 1;
            a = star_a + 1;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// What AWS's console warns about a role's trust policy, for a role used
/// as `slot` ("authenticated", "unauthenticated" or a rule's role, which
/// is for signed-in users) of pool `pool_id` (None: the role alone, on
/// its IAM page, where no pool is in question).
pub(crate) fn trust_warnings(
    trust_document: &str,
    pool_id: Option<&str>,
    slot: &str,
) -> Vec<String> {
    let policy = match Policy::parse(trust_document, PolicyKind::Trust, usize::MAX) {
        Ok(policy) => policy,
        Err(e) => return vec![format!("Its trust policy does not parse: {e}")],
    };
    let web_identity = |action: &str| action_matches(action, "sts:AssumeRoleWithWebIdentity");
    let trusting: Vec<_> = policy
        .statements()
        .iter()
        .filter(|st| st.effect() == cognate_policy::Effect::Allow && !st.is_not_principal())
        .filter(|st| st.is_not_action() || st.actions().iter().any(|a| web_identity(a)))
        .filter(|st| match st.principal() {
            Some(PrincipalSpec::Wildcard) => true,
            Some(PrincipalSpec::Map(map)) => {
                map.federated.iter().any(|f| f == COGNITO || f == "*")
                    || map.aws.iter().any(|a| a == "*")
            }
            None => false,
        })
        .collect();
    if trusting.is_empty() {
        return vec![format!(
            "Its trust policy does not let {COGNITO} assume it (sts:AssumeRoleWithWebIdentity): GetCredentialsForIdentity will fail with this role."
        )];
    }
    let mut warnings = Vec::new();
    let key_is = |entry: &cognate_policy::ConditionEntry, suffix: &str| {
        entry
            .key()
            .eq_ignore_ascii_case(&format!("{COGNITO}:{suffix}"))
    };
    // A condition limits a key only when it names what the value must be:
    // a positive string comparison without wildcards. A negated one
    // (StringNotEquals another pool) or a pattern ("*", "us-east-1:*")
    // lets in everything it does not name.
    let limits = |entry: &cognate_policy::ConditionEntry, suffix: &str| {
        use cognate_policy::BaseOperator::{StringEquals, StringEqualsIgnoreCase, StringLike};
        key_is(entry, suffix)
            && match entry.operator().base {
                StringEquals | StringEqualsIgnoreCase => true,
                StringLike => !entry.values().iter().any(|v| v.contains(['*', '?'])),
                _ => false,
            }
    };
    let without_aud = trusting
        .iter()
        .any(|st| !st.conditions().iter().any(|c| limits(c, "aud")));
    if without_aud {
        warnings.push(format!(
            "Its trust policy has no {COGNITO}:aud condition naming identity pools (StringEquals, or StringLike without wildcards): identities of any identity pool, in any account, can assume it. Add \"StringEquals\": {{\"{COGNITO}:aud\": \"{}\"}}.",
            pool_id.unwrap_or("<identity pool id>")
        ));
    } else if let Some(pool_id) = pool_id
        && !trusting.iter().any(|st| {
            st.conditions()
                .iter()
                .any(|c| limits(c, "aud") && c.values().iter().any(|v| v == pool_id))
        })
    {
        warnings.push(format!(
            "Its trust policy's {COGNITO}:aud condition does not name this identity pool ({pool_id}): GetCredentialsForIdentity will fail with this role."
        ));
    }
    let without_amr = trusting
        .iter()
        .any(|st| !st.conditions().iter().any(|c| limits(c, "amr")));
    if without_amr {
        let want = if slot == "unauthenticated" {
            "unauthenticated"
        } else {
            "authenticated"
        };
        warnings.push(format!(
            "Its trust policy has no {COGNITO}:amr condition naming \"authenticated\" or \"unauthenticated\" (without wildcards or negation): guests and signed-in identities alike can assume it. Add \"ForAnyValue:StringLike\": {{\"{COGNITO}:amr\": \"{want}\"}}."
        ));
    }
    warnings
}

/// The warnings for every role the form names, by role ARN (a role that
/// does not exist is said so).
async fn warnings_for(
    console: &crate::Console,
    pool_id: &str,
    form: &RolesForm,
) -> Vec<(String, String, Vec<String>)> {
    let mut named: Vec<(String, String)> = Vec::new();
    for (slot, arn) in [
        ("authenticated", &form.authenticated),
        ("unauthenticated", &form.unauthenticated),
    ] {
        if !arn.trim().is_empty() {
            named.push((slot.into(), arn.trim().into()));
        }
    }
    for block in &form.mappings {
        if block.mapping_type != "Rules" {
            continue;
        }
        for rule in &block.rules {
            let arn = rule.role.trim();
            if !arn.is_empty() && !named.iter().any(|(_, a)| a == arn) {
                named.push(("rule".into(), arn.into()));
            }
        }
    }
    let account = &console.app.cognate.config().account;
    let mut out = Vec::new();
    for (slot, arn) in named {
        let warnings = match console.app.cognate.role_by_arn(&arn).await {
            Ok(Some(role)) if &role.account == account => {
                trust_warnings(&role.assume_role_policy_document, Some(pool_id), &slot)
            }
            Ok(_) => vec!["There is no such role in this account.".to_string()],
            Err(e) => vec![error_message(&e)],
        };
        if !warnings.is_empty() {
            out.push((slot, arn, warnings));
        }
    }
    out
}

fn select(id: &str, name: &str, current: &str, options: &[(&str, &str)]) -> Markup {
    html! {
        select id=(id) name=(name) {
            @for (value, text) in options {
                option value=(value) selected[current == *value] { (text) }
            }
        }
    }
}

async fn roles_page(
    console: &crate::Console,
    status: StatusCode,
    signed: &Signed,
    pool: &Pool,
    form: &RolesForm,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let warnings = warnings_for(console, &pool.id, form).await;
    let role_arns: Vec<String> = match console
        .app
        .cognate
        .iam()
        .list_roles(&console.caller(), None, 1000, None)
        .await
    {
        Ok((roles, _)) => roles.into_iter().map(|r| r.arn).collect(),
        Err(_) => Vec::new(),
    };
    let providers = provider_keys(pool);
    let pool_path = format!("/console/pools/{}", segment(&pool.id));
    let body = html! {
        p class="crumbs" { a href=(pool_path) { (pool.name) } " › Roles" }
        h1 { "Roles of " (pool.name) }
        @if let Some(notice) = notice {
            p class="notice" role="status" { (notice) }
        }
        @if let Some(error) = error {
            div class="error" role="alert" id="form-error" { p { (error) } }
        }
        @if !warnings.is_empty() {
            section class="warning" aria-labelledby="trust-warnings" id="trust-warnings-section" {
                h2 id="trust-warnings" { "Trust policy warnings" }
                ul {
                    @for (slot, arn, list) in &warnings {
                        li {
                            "Role " code { (arn) } " (" (slot) "):"
                            ul { @for w in list { li class="trust-warning" { (w) } } }
                        }
                    }
                }
            }
        }
        datalist id="role-arns" { @for arn in &role_arns { option value=(arn) {} } }
        datalist id="provider-keys" { @for key in &providers { option value=(key) {} } }
        form method="post" action={ (pool_path) "/roles" } class="stacked" {
            input type="hidden" name="csrf" value=(signed.0.csrf);
            label for="authenticated" { "Authenticated role ARN" }
            input id="authenticated" name="authenticated" type="text" list="role-arns"
                value=(form.authenticated) aria-describedby="roles-help";
            label for="unauthenticated" { "Guest (unauthenticated) role ARN" }
            input id="unauthenticated" name="unauthenticated" type="text" list="role-arns"
                value=(form.unauthenticated) aria-describedby="roles-help";
            p class="help" id="roles-help" { "Leave blank for none. " a href="/console/iam/roles" { "IAM roles" } }
            h2 { "Role mappings" }
            p class="help" { "Per login provider: Token reads the role from a Cognito user pool token (cognito:preferred_role); Rules picks the first rule whose claim matches. Blank rule rows are ignored." }
            @for (i, block) in form.mappings.iter().enumerate() {
                fieldset class="mapping" {
                    legend { "Provider " (i + 1) }
                    label for={ "m" (i) ".provider" } { "Login provider" }
                    input id={ "m" (i) ".provider" } name={ "m" (i) ".provider" } type="text"
                        list="provider-keys" value=(block.provider);
                    label for={ "m" (i) ".type" } { "Mapping" }
                    (select(&format!("m{i}.type"), &format!("m{i}.type"), &block.mapping_type,
                        &[("", "None (use the default roles)"), ("Token", "Token"), ("Rules", "Rules")]))
                    label for={ "m" (i) ".ambiguous" } { "When no rule matches or the token names no role" }
                    (select(&format!("m{i}.ambiguous"), &format!("m{i}.ambiguous"), &block.ambiguous,
                        &[("", "Not set (AuthenticatedRole)"), ("AuthenticatedRole", "Use the authenticated role (AuthenticatedRole)"), ("Deny", "Deny")]))
                    table class="rules" {
                        caption { "Rules, in order" }
                        thead { tr {
                            th scope="col" { "#" }
                            th scope="col" { "Claim" }
                            th scope="col" { "Match type" }
                            th scope="col" { "Value" }
                            th scope="col" { "Role ARN" }
                        } }
                        tbody {
                            @for (j, rule) in block.rules.iter().enumerate() {
                                tr {
                                    td { (j + 1) }
                                    td {
                                        label class="visually-hidden" for={ "m" (i) ".r" (j) ".claim" } { "Rule " (j + 1) " claim" }
                                        input id={ "m" (i) ".r" (j) ".claim" } name={ "m" (i) ".r" (j) ".claim" } type="text" value=(rule.claim);
                                    }
                                    td {
                                        label class="visually-hidden" for={ "m" (i) ".r" (j) ".match" } { "Rule " (j + 1) " match type" }
                                        (select(&format!("m{i}.r{j}.match"), &format!("m{i}.r{j}.match"), &rule.match_type,
                                            &[("Equals", "Equals"), ("Contains", "Contains"), ("StartsWith", "StartsWith"), ("NotEqual", "NotEqual")]))
                                    }
                                    td {
                                        label class="visually-hidden" for={ "m" (i) ".r" (j) ".value" } { "Rule " (j + 1) " value" }
                                        input id={ "m" (i) ".r" (j) ".value" } name={ "m" (i) ".r" (j) ".value" } type="text" value=(rule.value);
                                    }
                                    td {
                                        label class="visually-hidden" for={ "m" (i) ".r" (j) ".role" } { "Rule " (j + 1) " role ARN" }
                                        input id={ "m" (i) ".r" (j) ".role" } name={ "m" (i) ".r" (j) ".role" } type="text" list="role-arns" value=(rule.role);
                                    }
                                }
                            }
                        }
                    }
                    button type="submit" name="action" value={ "add-rule-" (i) } class="secondary" { "Add a rule to provider " (i + 1) }
                }
            }
            p {
                button type="submit" name="action" value="add-provider" class="secondary" { "Add a provider" }
            }
            p { button type="submit" name="action" value="save" { "Save roles" } }
        }
    };
    respond(
        status,
        page(
            &format!("Roles of {}", pool.name),
            Some(signed),
            Section::Pools,
            body,
        ),
    )
}

/// Blank rows to fill: every block gets `BLANK_RULES` blank rule rows at
/// its end, and one blank provider block ends the list.
fn with_blanks(mut form: RolesForm) -> RolesForm {
    if !form.mappings.iter().any(|b| b.provider.trim().is_empty()) {
        form.mappings.push(MappingBlock::default());
    }
    for block in &mut form.mappings {
        let blanks = block
            .rules
            .iter()
            .rev()
            .take_while(|r| r.is_blank())
            .count();
        for _ in blanks..BLANK_RULES {
            block.rules.push(RuleRow {
                match_type: "Equals".into(),
                ..RuleRow::default()
            });
        }
    }
    form
}

pub(crate) async fn show(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    let pool = match console
        .app
        .cognate
        .pools()
        .roles(&console.caller(), &id)
        .await
    {
        Ok(pool) => pool,
        Err(e) => return domain_error(&signed, &e),
    };
    let form = with_blanks(RolesForm::from_pool(&pool));
    let notice = query.contains_key("saved").then_some("Saved the roles.");
    roles_page(
        &console,
        StatusCode::OK,
        &signed,
        &pool,
        &form,
        notice,
        None,
    )
    .await
}

pub(crate) async fn save(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let caller = console.caller();
    let pools = console.app.cognate.pools();
    let pool = match pools.roles(&caller, &id).await {
        Ok(pool) => pool,
        Err(e) => return domain_error(&signed, &e),
    };
    let mut form = RolesForm::from_fields(&fields);
    let action = fields
        .iter()
        .find(|(k, _)| k == "action")
        .map_or("save", |(_, v)| v.as_str());
    if action == "add-provider" {
        form.mappings.push(MappingBlock::default());
        let form = with_blanks(form);
        return roles_page(&console, StatusCode::OK, &signed, &pool, &form, None, None).await;
    }
    if let Some(i) = action
        .strip_prefix("add-rule-")
        .and_then(|i| i.parse::<usize>().ok())
    {
        if let Some(block) = form.mappings.get_mut(i) {
            block.rules.push(RuleRow {
                match_type: "Equals".into(),
                ..RuleRow::default()
            });
        }
        return roles_page(&console, StatusCode::OK, &signed, &pool, &form, None, None).await;
    }
    let saved: Result<(), cognate_core::Error> =
        match cognate_server::cognito::checked_role_settings(form.input()) {
            Ok((roles, mappings)) => pools.set_roles(&caller, &id, roles, mappings).await,
            Err(e) => Err(e),
        };
    match saved {
        Ok(()) => {
            Redirect::to(&format!("/console/pools/{}/roles?saved=1", segment(&id))).into_response()
        }
        Err(e) => {
            let status = cognate_server::wire_error::ApiError::from_domain(
                &e,
                cognate_server::wire_error::Protocol::Json,
            )
            .status;
            let form = with_blanks(form);
            roles_page(
                &console,
                status,
                &signed,
                &pool,
                &form,
                None,
                Some(&error_message(&e)),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::trust_warnings;

    const POOL: &str = "us-east-1:11111111-1111-1111-1111-111111111111";

    fn trust(condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"cognito-identity.amazonaws.com"}},"Action":"sts:AssumeRoleWithWebIdentity"{condition}}}]}}"#
        )
    }

    #[test]
    fn an_open_trust_warns_of_aud_and_amr() {
        let w = trust_warnings(&trust(""), Some(POOL), "unauthenticated");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains(":aud condition") && w[0].contains(POOL));
        assert!(w[1].contains(":amr condition") && w[1].contains("\"unauthenticated\""));
    }

    #[test]
    fn a_proper_trust_draws_nothing_and_any_operator_counts() {
        let proper = trust(&format!(
            r#","Condition":{{"StringEquals":{{"cognito-identity.amazonaws.com:aud":"{POOL}"}},"ForAnyValue:StringLike":{{"Cognito-Identity.amazonaws.com:AMR":"authenticated"}}}}"#
        ));
        assert_eq!(
            trust_warnings(&proper, Some(POOL), "authenticated"),
            Vec::<String>::new()
        );
        // Another pool's aud: it would never work for this one.
        let w = trust_warnings(
            &proper,
            Some("us-east-1:22222222-2222-2222-2222-222222222222"),
            "authenticated",
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("does not name this identity pool"));
        // Without a pool in question (a role's own page): nothing.
        assert!(trust_warnings(&proper, None, "authenticated").is_empty());
    }

    #[test]
    fn wildcards_and_negations_do_not_limit_aud_or_amr() {
        for condition in [
            r#""StringLike":{"cognito-identity.amazonaws.com:aud":"*","cognito-identity.amazonaws.com:amr":"*"}"#,
            r#""StringLike":{"cognito-identity.amazonaws.com:aud":"us-east-1:*"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"*authenticated"}"#,
            r#""StringNotEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:22222222-2222-2222-2222-222222222222"},"ForAnyValue:StringNotLike":{"cognito-identity.amazonaws.com:amr":"x"}"#,
            r#""Null":{"cognito-identity.amazonaws.com:aud":"false","cognito-identity.amazonaws.com:amr":"false"}"#,
        ] {
            let doc = trust(&format!(r#","Condition":{{{condition}}}"#));
            for pool in [Some(POOL), None] {
                let w = trust_warnings(&doc, pool, "unauthenticated");
                assert_eq!(w.len(), 2, "{condition}: {w:?}");
                assert!(w[0].contains(":aud condition") && w[0].contains("any identity pool"));
                assert!(w[1].contains(":amr condition"));
            }
        }
        // A pattern without wildcards names the pool as StringEquals does.
        let like = trust(&format!(
            r#","Condition":{{"StringLike":{{"cognito-identity.amazonaws.com:aud":"{POOL}","cognito-identity.amazonaws.com:amr":"authenticated"}}}}"#
        ));
        assert!(trust_warnings(&like, Some(POOL), "authenticated").is_empty());
    }

    #[test]
    fn an_action_pattern_that_matches_web_identity_trusts_cognito() {
        for action in [
            "*",
            "sts:*",
            "STS:AssumeRoleWithWebIdentity",
            "sts:AssumeRole*",
            "sts:Assume*",
            "sts:*WebIdentity",
            "sts:AssumeRoleWith?ebIdentity",
        ] {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"cognito-identity.amazonaws.com"}},"Action":"{action}"}}]}}"#
            );
            let w = trust_warnings(&doc, Some(POOL), "authenticated");
            assert_eq!(w.len(), 2, "{action}: {w:?}");
            assert!(w[0].contains("any identity pool"), "{action}: {w:?}");
        }
        for action in [
            "sts:AssumeRole",
            "sts:AssumeRoleWithSAML",
            "sts:TagSession",
            "s3:*",
        ] {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"cognito-identity.amazonaws.com"}},"Action":"{action}"}}]}}"#
            );
            let w = trust_warnings(&doc, Some(POOL), "authenticated");
            assert!(w[0].contains("does not let"), "{action}: {w:?}");
        }
    }

    #[test]
    fn a_trust_cognito_cannot_use_says_so() {
        let ec2 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let w = trust_warnings(ec2, Some(POOL), "authenticated");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("does not let cognito-identity.amazonaws.com assume it"));
        let w = trust_warnings("{", Some(POOL), "authenticated");
        assert!(w[0].starts_with("Its trust policy does not parse"));
    }
}
