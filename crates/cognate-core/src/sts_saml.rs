//! STS AssumeRoleWithSAML: an IdP's SAML response exchanged for temporary
//! credentials of a role that the assertion grants (its Role attribute
//! pairs the role with this provider) and whose trust policy allows
//! `sts:AssumeRoleWithSAML` for the provider.
//!
//! Order of the checks: the provider (`PrincipalArn`) must be an IAM SAML
//! provider of the role's account; the response must verify against its
//! metadata (cognate-saml: signature, issuer, audience, recipient,
//! validity); the assertion must pair the role with the provider and name
//! a `RoleSessionName`; then the trust policy, the duration and session
//! policies as for AssumeRoleWithWebIdentity.
//!
//! Condition keys for the trust policy (as AWS documents them): `SAML:aud`
//! (the recipient, AWS's sign-in endpoint), `SAML:iss`, `SAML:sub`,
//! `SAML:sub_type`, `SAML:namequalifier` and `SAML:doc`
//! (`<account>/<provider name>`). Session tags from `PrincipalTag`
//! attributes are not supported.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::saml::SIGNIN;
use crate::sts::{FederatedSession, SessionRequest, Sts};
use crate::trust::{FederatedRequest, federated_trust};

const NOT_AUTHORIZED: &str = "Not authorized to perform sts:AssumeRoleWithSAML";
const ROLE_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
const SOURCE_IDENTITY: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";
const NAMEID_PREFIX: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:";

/// The request, after the model constraints were checked.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleWithSaml {
    pub role_arn: String,
    pub principal_arn: String,
    pub saml_assertion: String,
    pub policy_arns: Vec<String>,
    pub policy: Option<String>,
    pub duration_seconds: Option<i64>,
}

/// What AssumeRoleWithSAML answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedSamlRole {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
    pub assumed_role_id: String,
    pub packed_policy_size: Option<u32>,
    /// The NameID.
    pub subject: String,
    /// `persistent`, `transient`, or the NameID format as given.
    pub subject_type: String,
    pub issuer: String,
    pub audience: String,
    /// Base64(SHA-1(issuer + account + "/" + provider name)).
    pub name_qualifier: String,
    pub source_identity: Option<String>,
}

/// RoleSessionName's constraints: 2 to 64 of `[\w+=,.@-]`.
fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

impl Sts<'_> {
    /// AssumeRoleWithSAML (unsigned).
    pub async fn assume_role_with_saml(
        &self,
        input: &AssumeRoleWithSaml,
    ) -> Result<AssumedSamlRole> {
        let provider = self
            .store
            .get_saml_provider(&input.principal_arn)
            .await?
            .ok_or_else(|| {
                Error::InvalidIdentityToken(format!(
                    "No SAML provider found in your account for {}",
                    input.principal_arn
                ))
            })?;

        let assertion = crate::saml::verify(
            provider.metadata.clone(),
            input.saml_assertion.clone(),
            self.clock.now_secs(),
            None,
        )
        .await?
        .map_err(|e| match e {
            cognate_saml::SamlError::Expired => Error::ExpiredToken(
                "Token is expired: the SAML assertion is no longer valid".into(),
            ),
            other => Error::InvalidIdentityToken(format!("Invalid SAML response: {other}")),
        })?;

        // The assertion must grant this role through this provider; a role
        // it does not grant (or that does not exist) is AccessDenied alike.
        if !assertion
            .roles()
            .iter()
            .any(|(role, principal)| role == &input.role_arn && principal == &input.principal_arn)
        {
            return Err(Error::AccessDenied(NOT_AUTHORIZED.into()));
        }
        let session_name = match assertion.attribute(ROLE_SESSION_NAME) {
            Some([name]) if valid_session_name(name) => name.clone(),
            _ => {
                return Err(Error::InvalidIdentityToken(format!(
                    "The SAML assertion must carry one {ROLE_SESSION_NAME} attribute of 2 to 64 characters [\\w+=,.@-]"
                )));
            }
        };

        let view = self.config_view().await?;
        let cached = match self.cached_role_by_arn(&view, &input.role_arn).await? {
            Some(role) if role.role.account == provider.account => role,
            _ => return Err(Error::AccessDenied(NOT_AUTHORIZED.into())),
        };
        let role = &cached.role;
        let subject_type = match assertion.name_id_format.as_deref() {
            Some(format) => format
                .strip_prefix(NAMEID_PREFIX)
                .unwrap_or(format)
                .to_string(),
            None => "unspecified".to_string(),
        };
        let name_qualifier = STANDARD.encode(digest::digest(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            format!("{}{}/{}", assertion.issuer, provider.account, provider.name).as_bytes(),
        ));
        let request = FederatedRequest {
            principals: vec![provider.arn.clone()],
            keys: vec![
                ("SAML:aud".into(), vec![SIGNIN.into()]),
                ("SAML:iss".into(), vec![assertion.issuer.clone()]),
                ("SAML:sub".into(), vec![assertion.name_id.clone()]),
                ("SAML:sub_type".into(), vec![subject_type.clone()]),
                ("SAML:namequalifier".into(), vec![name_qualifier.clone()]),
                (
                    "SAML:doc".into(),
                    vec![format!("{}/{}", provider.account, provider.name)],
                ),
            ],
            tags: Default::default(),
            tags_session: false,
        };
        let trusted = cached.trust.as_ref().is_some_and(|trust| {
            federated_trust(trust, &role.arn, &request, "sts:AssumeRoleWithSAML")
        });
        if !trusted {
            tracing::debug!(role = %role.arn, provider = %provider.arn, "SAML assertion not trusted by the role");
            return Err(Error::AccessDenied(NOT_AUTHORIZED.into()));
        }

        let vended = self
            .vend_federated_session(
                role,
                FederatedSession {
                    session_name,
                    provider: "SAML".into(),
                    audience: SIGNIN.into(),
                    subject: assertion.name_id.clone(),
                    amr: Vec::new(),
                    tags: Default::default(),
                },
                &SessionRequest {
                    duration_seconds: input.duration_seconds,
                    policy: input.policy.as_deref(),
                    policy_arns: &input.policy_arns,
                },
                "assume_role_with_saml",
            )
            .await?;
        Ok(AssumedSamlRole {
            credentials: vended.credentials,
            assumed_role_arn: vended.assumed_role_arn,
            assumed_role_id: vended.assumed_role_id,
            packed_policy_size: vended.packed_policy_size,
            subject: assertion.name_id.clone(),
            subject_type,
            issuer: assertion.issuer.clone(),
            audience: SIGNIN.into(),
            name_qualifier,
            source_identity: assertion
                .attribute(SOURCE_IDENTITY)
                .and_then(|v| v.first().cloned()),
        })
    }
}
