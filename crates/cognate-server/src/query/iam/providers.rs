//! Identity providers: OpenID Connect and SAML.

use cognate_core::model::OidcProvider;

use super::{err, required, tags, write_tags};
use crate::call::Context;
use crate::query::{Params, QueryOperation};
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;
use crate::xml::{XmlWriter, timestamp};

fn oidc_provider_arn(c: &mut Checker, params: &Params) -> String {
    let arn = required(
        c,
        params,
        "OpenIDConnectProviderArn",
        "openIDConnectProviderArn",
    );
    c.arn("openIDConnectProviderArn", &arn);
    arn
}

fn write_oidc_provider(w: &mut XmlWriter, p: &OidcProvider) {
    w.leaf("Url", p.host_path());
    w.open("ClientIDList");
    for id in &p.client_ids {
        w.leaf("member", id);
    }
    w.close("ClientIDList");
    w.open("ThumbprintList");
    for t in &p.thumbprints {
        w.leaf("member", t);
    }
    w.close("ThumbprintList");
    w.leaf("CreateDate", &timestamp(p.created_at));
}

pub struct CreateOpenIDConnectProviderInput {
    url: String,
    client_ids: Vec<String>,
    thumbprints: Vec<String>,
}

impl QueryOperation for CreateOpenIDConnectProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        let url = required(c, params, "Url", "url");
        c.string("url", &url, 1, 255, None);
        let client_ids = params.list("ClientIDList");
        for id in &client_ids {
            c.string("clientIDList", id, 1, 255, None);
        }
        Ok(CreateOpenIDConnectProviderInput {
            url,
            client_ids,
            thumbprints: params.list("ThumbprintList"),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let provider = iam
            .create_oidc_provider(&cx.caller, &self.url, self.client_ids, self.thumbprints)
            .await
            .map_err(err)?;
        w.leaf("OpenIDConnectProviderArn", &provider.arn);
        Ok(())
    }
}

pub struct GetOpenIDConnectProviderInput {
    arn: String,
}

impl QueryOperation for GetOpenIDConnectProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(GetOpenIDConnectProviderInput {
            arn: oidc_provider_arn(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let provider = cx
            .cognate()
            .iam()
            .oidc_provider(&cx.caller, &self.arn)
            .await;
        write_oidc_provider(w, &provider.map_err(err)?);
        Ok(())
    }
}

pub struct ListOpenIDConnectProvidersInput;

impl QueryOperation for ListOpenIDConnectProvidersInput {
    fn parse(_: &Params, _: &mut Checker) -> Result<Self, ApiError> {
        Ok(ListOpenIDConnectProvidersInput)
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let providers = iam.list_oidc_providers(&cx.caller).await.map_err(err)?;
        w.open("OpenIDConnectProviderList");
        for p in &providers {
            w.open("member").leaf("Arn", &p.arn).close("member");
        }
        w.close("OpenIDConnectProviderList");
        Ok(())
    }
}

pub struct DeleteOpenIDConnectProviderInput {
    arn: String,
}

impl QueryOperation for DeleteOpenIDConnectProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(DeleteOpenIDConnectProviderInput {
            arn: oidc_provider_arn(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.delete_oidc_provider(&cx.caller, &self.arn)
            .await
            .map_err(err)
    }
}

/// A client id of an OpenID Connect provider, to add or remove.
pub struct ProviderClientId {
    arn: String,
    client_id: String,
}

impl ProviderClientId {
    fn parse(params: &Params, c: &mut Checker) -> ProviderClientId {
        let arn = oidc_provider_arn(c, params);
        let client_id = required(c, params, "ClientID", "clientID");
        c.string("clientID", &client_id, 1, 255, None);
        ProviderClientId { arn, client_id }
    }
}

pub struct AddClientIDToOpenIDConnectProviderInput(ProviderClientId);

impl QueryOperation for AddClientIDToOpenIDConnectProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(Self(ProviderClientId::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.add_oidc_client_id(&cx.caller, &self.0.arn, &self.0.client_id)
            .await
            .map_err(err)
    }
}

pub struct RemoveClientIDFromOpenIDConnectProviderInput(ProviderClientId);

impl QueryOperation for RemoveClientIDFromOpenIDConnectProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(Self(ProviderClientId::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.remove_oidc_client_id(&cx.caller, &self.0.arn, &self.0.client_id)
            .await
            .map_err(err)
    }
}

fn saml_provider_arn(c: &mut Checker, params: &Params) -> String {
    let arn = required(c, params, "SAMLProviderArn", "sAMLProviderArn");
    c.arn("sAMLProviderArn", &arn);
    arn
}

fn saml_metadata(c: &mut Checker, params: &Params) -> String {
    let metadata = required(c, params, "SAMLMetadataDocument", "sAMLMetadataDocument");
    c.string("sAMLMetadataDocument", &metadata, 1000, 10_000_000, None);
    metadata
}

pub struct CreateSAMLProviderInput {
    name: String,
    metadata: String,
    tags: std::collections::BTreeMap<String, String>,
}

impl QueryOperation for CreateSAMLProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        let name = required(c, params, "Name", "name");
        c.string("name", &name, 1, 128, Some(&v::SAML_PROVIDER_NAME));
        let metadata = saml_metadata(c, params);
        let tags = tags(c, params)?;
        Ok(CreateSAMLProviderInput {
            name,
            metadata,
            tags,
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let provider = iam
            .create_saml_provider(&cx.caller, &self.name, &self.metadata, self.tags)
            .await
            .map_err(err)?;
        w.leaf("SAMLProviderArn", &provider.arn);
        write_tags(w, &provider.tags);
        Ok(())
    }
}

pub struct GetSAMLProviderInput {
    arn: String,
}

impl QueryOperation for GetSAMLProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(GetSAMLProviderInput {
            arn: saml_provider_arn(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let provider = iam
            .saml_provider(&cx.caller, &self.arn)
            .await
            .map_err(err)?;
        w.leaf("SAMLMetadataDocument", &provider.metadata);
        w.leaf("CreateDate", &timestamp(provider.created_at));
        if let Some(valid_until) = provider.valid_until {
            w.leaf("ValidUntil", &timestamp(valid_until));
        }
        write_tags(w, &provider.tags);
        Ok(())
    }
}

pub struct ListSAMLProvidersInput;

impl QueryOperation for ListSAMLProvidersInput {
    fn parse(_: &Params, _: &mut Checker) -> Result<Self, ApiError> {
        Ok(ListSAMLProvidersInput)
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let providers = iam.list_saml_providers(&cx.caller).await.map_err(err)?;
        w.open("SAMLProviderList");
        for p in &providers {
            w.open("member").leaf("Arn", &p.arn);
            if let Some(valid_until) = p.valid_until {
                w.leaf("ValidUntil", &timestamp(valid_until));
            }
            w.leaf("CreateDate", &timestamp(p.created_at))
                .close("member");
        }
        w.close("SAMLProviderList");
        Ok(())
    }
}

pub struct UpdateSAMLProviderInput {
    arn: String,
    metadata: String,
}

impl QueryOperation for UpdateSAMLProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(UpdateSAMLProviderInput {
            arn: saml_provider_arn(c, params),
            metadata: saml_metadata(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let provider = iam
            .update_saml_provider(&cx.caller, &self.arn, &self.metadata)
            .await
            .map_err(err)?;
        w.leaf("SAMLProviderArn", &provider.arn);
        Ok(())
    }
}

pub struct DeleteSAMLProviderInput {
    arn: String,
}

impl QueryOperation for DeleteSAMLProviderInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(DeleteSAMLProviderInput {
            arn: saml_provider_arn(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.delete_saml_provider(&cx.caller, &self.arn)
            .await
            .map_err(err)
    }
}
