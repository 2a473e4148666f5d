//! SAML responses as both the Cognito logins and STS AssumeRoleWithSAML
//! check them: addressed to AWS's sign-in (the IdP is set up with AWS's
//! service provider metadata), and verified off the async workers, since
//! parsing and canonicalizing XML of hostile origin is CPU work.

use cognate_saml::{SamlError, VerifiedAssertion};

use crate::error::{Error, Result};
use crate::iam::parse_saml_metadata;

/// AWS's sign-in endpoint for SAML: the recipient, and an audience, of
/// assertions for AWS.
pub(crate) const SIGNIN: &str = "https://signin.aws.amazon.com/saml";
const STATIC_SIGNIN: &str = "https://signin.aws.amazon.com/static/saml";
const AUDIENCES: [&str; 2] = ["urn:amazon:webservices", SIGNIN];
const CLOCK_SKEW_SECS: i64 = 300;

/// Verifies a base64 SAML response against an IAM SAML provider's
/// metadata at `now`. With `region`, that region's sign-in endpoint is an
/// accepted recipient too. The outer error is the server's (metadata that
/// no longer parses, a stopped task); the inner one is the response's.
pub(crate) async fn verify(
    metadata: String,
    response: String,
    now: i64,
    region: Option<&str>,
) -> Result<std::result::Result<VerifiedAssertion, SamlError>> {
    let regional = region.map(|r| format!("https://{r}.signin.aws.amazon.com/saml"));
    tokio::task::spawn_blocking(move || {
        let idp = parse_saml_metadata(&metadata)?;
        let mut recipients = vec![SIGNIN, STATIC_SIGNIN];
        recipients.extend(regional.as_deref());
        let expect = cognate_saml::Expectations {
            now,
            clock_skew_secs: CLOCK_SKEW_SECS,
            audiences: &AUDIENCES,
            recipients: &recipients,
        };
        Ok(cognate_saml::verify_response(&response, &idp, &expect))
    })
    .await
    .map_err(|_| Error::Internal("SAML verification did not finish".into()))?
}
