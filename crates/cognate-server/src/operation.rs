//! How the services are framed on the wire; the operations themselves
//! are the domain's (`cognate_core::operation`).

pub use cognate_core::operation::{Operation, Service};

/// The Query protocol facts of a service.
pub trait QueryFraming {
    /// The Query protocol `Version` parameter.
    fn query_version(self) -> Option<&'static str>;
    /// The namespace of its XML answers.
    fn xml_namespace(self) -> &'static str;
}

impl QueryFraming for Service {
    fn query_version(self) -> Option<&'static str> {
        match self {
            Service::CognitoIdentity => None,
            Service::Sts => Some("2011-06-15"),
            Service::Iam => Some("2010-05-08"),
        }
    }

    fn xml_namespace(self) -> &'static str {
        match self {
            Service::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
            Service::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            Service::CognitoIdentity => "http://cognito-identity.amazonaws.com/doc/2014-06-30/",
        }
    }
}
