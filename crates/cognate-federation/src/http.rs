//! Fetching from providers: plain `http` only to loopback, redirects only
//! within the same origin, bounded size and time, and errors that never
//! carry a URL (a query string may hold a token).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cognate_core::federation::is_loopback_host;
use reqwest::{Client, StatusCode, Url, redirect};

/// Why a fetch failed. The display text names no URL and no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("refused URL: {0}")]
    Refused(&'static str),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("timed out")]
    Timeout,
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    #[error("response is not a JSON object")]
    NotJson,
    #[error("{0}")]
    Invalid(String),
}

/// Checks that a provider URL may be fetched: `https`, or `http` to a
/// loopback host; no credentials in it.
pub(crate) fn check_url(url: &Url) -> Result<(), FetchError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Refused("credentials in URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::Refused("no host"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(FetchError::Refused(
            "plain http is allowed only for loopback hosts",
        )),
        _ => Err(FetchError::Refused("scheme must be https")),
    }
}

/// `localhost`, `127.0.0.0/8`, `::1` (and IPv4-mapped loopback): the
/// domain's one loopback rule ([`is_loopback_host`]).
pub(crate) fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(is_loopback_host)
}

/// Parses a URL and checks it with [`check_url`].
pub(crate) fn parse_url(s: &str) -> Result<Url, FetchError> {
    let url = Url::parse(s).map_err(|_| FetchError::Refused("not a valid URL"))?;
    check_url(&url)?;
    Ok(url)
}

/// Same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

fn redirect_policy() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.error("redirect without origin");
        };
        if attempt.previous().len() > 5 {
            return attempt.error("too many redirects");
        }
        if !same_origin(first, attempt.url()) {
            return attempt.error("redirect to another host refused");
        }
        attempt.follow()
    })
}

/// An HTTP answer whose body was read (within the size limit).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json_object(
        &self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, FetchError> {
        match serde_json::from_slice(&self.body) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(FetchError::NotJson),
        }
    }
}

/// The HTTP clients, built at the first fetch: building one reads and
/// parses the system's CA certificates, which would otherwise be most of
/// a server's start-up time (a server for tests may never fetch).
#[derive(Debug, Clone)]
pub(crate) struct Http {
    /// For public hosts: honours the proxy settings of the environment.
    public: Arc<OnceLock<Client>>,
    /// For loopback hosts: never through a proxy.
    loopback: Arc<OnceLock<Client>>,
    timeout: Duration,
    max_bytes: usize,
}

impl Http {
    pub(crate) fn new(timeout: Duration, max_bytes: usize) -> Result<Self, reqwest::Error> {
        Ok(Http {
            public: Arc::default(),
            loopback: Arc::default(),
            timeout,
            max_bytes,
        })
    }

    fn client(&self, loopback: bool) -> Result<&Client, FetchError> {
        let slot = if loopback {
            &self.loopback
        } else {
            &self.public
        };
        if let Some(client) = slot.get() {
            return Ok(client);
        }
        let builder = Client::builder()
            .redirect(redirect_policy())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .user_agent(concat!("cognate-federation/", env!("CARGO_PKG_VERSION")));
        let builder = if loopback {
            // `localhost` is this machine whatever a resolver says.
            let local = [
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)),
            ];
            builder.no_proxy().resolve_to_addrs("localhost", &local)
        } else {
            builder
        };
        let client = builder
            .build()
            .map_err(|e| FetchError::Invalid(format!("cannot make an HTTP client: {e}")))?;
        Ok(slot.get_or_init(|| client))
    }

    /// GET `url` (checked first) with extra query pairs and headers; reads
    /// the body up to the size limit whatever the status.
    pub(crate) async fn get(
        &self,
        url: &Url,
        query: &[(&str, &str)],
        authorization: Option<&str>,
    ) -> Result<Answer, FetchError> {
        check_url(url)?;
        let client = self.client(is_loopback(url))?;
        let mut full = url.clone();
        if !query.is_empty() {
            let mut pairs = full.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let mut req = client.get(full).header("accept", "application/json");
        if let Some(value) = authorization {
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| FetchError::Invalid("an invalid Authorization header".into()))?;
            // Never printed in debug output.
            value.set_sensitive(true);
            req = req.header(reqwest::header::AUTHORIZATION, value);
        }
        let max = self.max_bytes;
        let work = async move {
            let mut resp = req.send().await.map_err(transport)?;
            let status = resp.status();
            if resp.content_length().is_some_and(|n| n > max as u64) {
                return Err(FetchError::TooLarge(max));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(transport)? {
                if body.len() + chunk.len() > max {
                    return Err(FetchError::TooLarge(max));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Answer { status, body })
        };
        // reqwest's own timeout covers the body too; this is a backstop.
        match tokio::time::timeout(self.timeout + Duration::from_millis(250), work).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    /// GET a JSON object that must come with status 200.
    pub(crate) async fn get_json_ok(
        &self,
        url: &Url,
    ) -> Result<serde_json::Map<String, serde_json::Value>, FetchError> {
        let answer = self.get(url, &[], None).await?;
        if answer.status != StatusCode::OK {
            return Err(FetchError::Status(answer.status.as_u16()));
        }
        answer.json_object()
    }
}

/// Describes a reqwest error without its URL.
fn transport(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let kind = if e.is_redirect() {
        "redirect refused"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "error reading the body"
    } else if e.is_request() {
        "error sending the request"
    } else {
        "error"
    };
    // The source chain of a redirect error says why (our policy's text).
    let mut detail = String::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    let e = e.without_url();
    tracing::trace!(error = %e, "provider request failed");
    if detail.is_empty() || detail.contains("://") {
        FetchError::Transport(kind.to_owned())
    } else {
        FetchError::Transport(format!("{kind}: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|_| {
            Url::parse("https://invalid.invalid").unwrap_or_else(|_| unreachable!())
        })
    }

    #[test]
    fn loopback_hosts() {
        for s in [
            "http://127.0.0.1:80/",
            "http://127.1.2.3/",
            "http://localhost:9/x",
            "http://LOCALHOST/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(is_loopback(&u(s)), "{s}");
            assert!(check_url(&u(s)).is_ok(), "{s}");
        }
        for s in [
            "http://example.com/",
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost.example.com/",
            "http://127.0.0.1.nip.io/",
            // Resolved by DNS, whose answer plain http would trust.
            "http://localhost./",
            "http://app.localhost/",
        ] {
            assert!(!is_loopback(&u(s)), "{s}");
            assert!(check_url(&u(s)).is_err(), "{s}");
        }
        assert!(check_url(&u("https://example.com/")).is_ok());
        assert!(check_url(&u("ftp://example.com/")).is_err());
        assert!(check_url(&u("https://user:pw@example.com/")).is_err());
        assert!(parse_url("not a url").is_err());
    }

    #[test]
    fn same_origin_rules() {
        assert!(same_origin(
            &u("http://127.0.0.1:5/a"),
            &u("http://127.0.0.1:5/b")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:5/a"),
            &u("http://localhost:5/a")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:5/a"),
            &u("http://127.0.0.1:6/a")
        ));
        assert!(!same_origin(
            &u("https://a.example/"),
            &u("http://a.example/")
        ));
        assert!(same_origin(
            &u("https://a.example/"),
            &u("https://A.example:443/")
        ));
    }
}
