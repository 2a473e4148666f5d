//! Every operation cognate serves, which service it belongs to, and whether
//! it may be called unsigned. Authorization names them as IAM actions
//! (`cognito-identity:DescribeIdentity`); the protocol layer adds how each
//! is framed on the wire.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    CognitoIdentity,
    Sts,
    Iam,
}

impl Service {
    /// The SigV4 signing name, which is also the prefix of the service's
    /// IAM actions.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::CognitoIdentity => "cognito-identity",
            Service::Sts => "sts",
            Service::Iam => "iam",
        }
    }
}

macro_rules! operations {
    ($($service:ident { $($op:ident $(: $public:ident)?),* $(,)? })*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $($($op,)*)*
        }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$($(Operation::$op,)*)*];

            pub fn name(self) -> &'static str {
                match self {
                    $($(Operation::$op => stringify!($op),)*)*
                }
            }

            pub fn service(self) -> Service {
                match self {
                    $($(Operation::$op => Service::$service,)*)*
                }
            }

            /// Operations the real service accepts without a signature.
            pub fn is_public(self) -> bool {
                match self {
                    $($(Operation::$op => operations!(@public $($public)?),)*)*
                }
            }

            /// Position in `ALL`, for per-operation metrics.
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
    (@public public) => { true };
    (@public) => { false };
}

operations! {
    CognitoIdentity {
        CreateIdentityPool,
        DescribeIdentityPool,
        UpdateIdentityPool,
        DeleteIdentityPool,
        ListIdentityPools,
        SetIdentityPoolRoles,
        GetIdentityPoolRoles,
        SetPrincipalTagAttributeMap,
        GetPrincipalTagAttributeMap,
        TagResource,
        UntagResource,
        ListTagsForResource,
        GetId: public,
        GetOpenIdToken: public,
        GetCredentialsForIdentity: public,
        UnlinkIdentity: public,
        ListIdentities,
        DescribeIdentity,
        DeleteIdentities,
        GetOpenIdTokenForDeveloperIdentity,
        LookupDeveloperIdentity,
        MergeDeveloperIdentities,
        UnlinkDeveloperIdentity,
    }
    Sts {
        GetCallerIdentity,
        AssumeRoleWithWebIdentity: public,
        AssumeRoleWithSAML: public,
    }
    Iam {
        CreateRole,
        GetRole,
        ListRoles,
        DeleteRole,
        PutRolePolicy,
        GetRolePolicy,
        DeleteRolePolicy,
        ListRolePolicies,
        UpdateRole,
        UpdateAssumeRolePolicy,
        CreatePolicy,
        GetPolicy,
        GetPolicyVersion,
        CreatePolicyVersion,
        DeletePolicyVersion,
        SetDefaultPolicyVersion,
        ListPolicyVersions,
        DeletePolicy,
        ListPolicies,
        AttachRolePolicy,
        DetachRolePolicy,
        ListAttachedRolePolicies,
        SimulatePrincipalPolicy,
        SimulateCustomPolicy,
        CreateOpenIDConnectProvider,
        GetOpenIDConnectProvider,
        ListOpenIDConnectProviders,
        DeleteOpenIDConnectProvider,
        AddClientIDToOpenIDConnectProvider,
        RemoveClientIDFromOpenIDConnectProvider,
        CreateSAMLProvider,
        GetSAMLProvider,
        ListSAMLProviders,
        UpdateSAMLProvider,
        DeleteSAMLProvider,
    }
}

impl Operation {
    /// The operation an `X-Amz-Target` names
    /// (`AWSCognitoIdentityService.<Name>`).
    pub fn from_json_target(target: &str) -> Option<Operation> {
        let name = target.strip_prefix("AWSCognitoIdentityService.")?;
        Operation::ALL
            .iter()
            .copied()
            .find(|op| op.service() == Service::CognitoIdentity && op.name() == name)
    }

    /// The operation a Query `Action` names (STS and IAM names are disjoint).
    pub fn from_query_action(action: &str) -> Option<Operation> {
        Operation::ALL
            .iter()
            .copied()
            .find(|op| op.service() != Service::CognitoIdentity && op.name() == action)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
