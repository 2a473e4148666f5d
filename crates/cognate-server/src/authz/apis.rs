//! Which of the operator's APIs a request is for, and its resource path:
//! what API Gateway knows from its own routing, forward-auth learns from
//! the configured `[[apis]]`.

use crate::client_address::TrustedProxies;

/// The forward-auth settings.
#[derive(Debug, Clone)]
pub struct ForwardAuth {
    /// The SigV4 service the signatures must be scoped to.
    pub service: String,
    /// Who may ask for decisions (the reverse proxies, the middleware):
    /// only they are believed about the original request.
    pub callers: TrustedProxies,
    pub apis: Vec<ApiRoute>,
}

impl Default for ForwardAuth {
    fn default() -> Self {
        ForwardAuth {
            service: "execute-api".into(),
            callers: loopback(),
            apis: Vec::new(),
        }
    }
}

/// Loopback, IPv4 and IPv6: the default forward-auth callers.
pub fn loopback() -> TrustedProxies {
    TrustedProxies::parse(&["127.0.0.0/8", "::1"]).unwrap_or_default()
}

/// One API: requests for `host` (any host when unset) under `path_prefix`
/// are for stage `stage` of API `id` in `region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoute {
    pub id: String,
    pub stage: String,
    pub region: String,
    /// Compared without case; with a port when the clients send one.
    pub host: Option<String>,
    /// `/` or a path of whole segments, such as `/api`.
    pub path_prefix: String,
}

impl ForwardAuth {
    /// The API a request is for: a route for its host before one for any
    /// host, then the longest matching prefix. `host` is compared as
    /// requests are routed (`routing_host`: no case, port or final dot).
    pub fn route(&self, host: &str, path: &str) -> Option<&ApiRoute> {
        // Made only when a route names a host: most name none.
        let host = self
            .apis
            .iter()
            .any(|api| api.host.is_some())
            .then(|| super::original::routing_host(host));
        self.apis
            .iter()
            .filter(|api| {
                api.host
                    .as_deref()
                    .is_none_or(|h| host.as_deref() == Some(h))
            })
            .filter(|api| api.resource_path(path).is_some())
            .max_by_key(|api| (api.host.is_some(), api.path_prefix.len()))
    }
}

impl ApiRoute {
    /// The path after the prefix, with its leading `/`; `None` when the
    /// path is not under the prefix.
    pub fn resource_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        let prefix = self.path_prefix.trim_end_matches('/');
        let rest = path.strip_prefix(prefix)?;
        if rest.is_empty() {
            Some("/")
        } else if rest.starts_with('/') {
            Some(rest)
        } else {
            None
        }
    }
}

/// The path the policies see: percent-decoded segments, empty ones
/// dropped, joined by `/`, with a leading `/`. `None` when a segment
/// decodes to `.` or `..`, holds a `;`, `/` or `\`, a control character,
/// or is not UTF-8: such a path
/// could name another resource to the upstream than to the policy, so it
/// is not decided at all.
pub fn decoded_path(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for segment in raw.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode(segment)?;
        let decoded = decoded.as_ref();
        // `;` starts path parameters that servlet containers and others
        // drop (`/admin;x` serves `/admin`): the policy would see another
        // resource than the upstream serves.
        if decoded == "."
            || decoded == ".."
            || decoded.contains([';', '/', '\\'])
            || decoded.chars().any(char::is_control)
        {
            return None;
        }
        out.push('/');
        out.push_str(decoded);
    }
    if out.is_empty() || raw.ends_with('/') {
        out.push('/');
    }
    Some(out)
}

fn percent_decode(segment: &str) -> Option<std::borrow::Cow<'_, str>> {
    // A `%` not followed by two hex digits is not an escape anyone meant.
    let bytes = segment.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(id: &str, host: Option<&str>, prefix: &str) -> ApiRoute {
        ApiRoute {
            id: id.into(),
            stage: "prod".into(),
            region: "us-east-1".into(),
            host: host.map(str::to_string),
            path_prefix: prefix.into(),
        }
    }

    #[test]
    fn the_longest_prefix_of_the_request_host_wins() {
        let auth = ForwardAuth {
            apis: vec![
                api("any", None, "/"),
                api("pets", None, "/pets"),
                api("pets-here", Some("api.example.com"), "/pets"),
            ],
            ..ForwardAuth::default()
        };
        let id = |host, path| auth.route(host, path).map(|a| a.id.as_str());
        assert_eq!(id("api.example.com", "/pets/1"), Some("pets-here"));
        assert_eq!(id("API.example.com", "/pets"), Some("pets-here"));
        assert_eq!(id("other.example.com", "/pets/1"), Some("pets"));
        assert_eq!(id("other.example.com", "/petshop"), Some("any"));
        // A route for the host wins over a longer prefix for any host, and
        // the host is compared as it is routed.
        let hosts = ForwardAuth {
            apis: vec![
                api("long", None, "/pets/toys"),
                api("here", Some("api.example.com"), "/"),
            ],
            ..ForwardAuth::default()
        };
        let id = |host, path| hosts.route(host, path).map(|a| a.id.as_str());
        assert_eq!(id("api.example.com", "/pets/toys/1"), Some("here"));
        assert_eq!(id("API.Example.com.:8443", "/pets/toys/1"), Some("here"));
        assert_eq!(id("other.example.com", "/pets/toys/1"), Some("long"));
        let none = ForwardAuth {
            apis: vec![api("pets", None, "/pets")],
            ..ForwardAuth::default()
        };
        assert!(none.route("h", "/petshop").is_none());
    }

    #[test]
    fn resource_paths_are_what_follows_the_prefix() {
        let pets = api("pets", None, "/pets/");
        assert_eq!(pets.resource_path("/pets/1/toys"), Some("/1/toys"));
        assert_eq!(pets.resource_path("/pets"), Some("/"));
        assert_eq!(pets.resource_path("/petshop"), None);
        assert_eq!(api("root", None, "/").resource_path("/a"), Some("/a"));
    }

    #[test]
    fn paths_that_could_mean_two_things_are_refused() {
        assert_eq!(
            decoded_path("/users/al%69ce/x").as_deref(),
            Some("/users/alice/x")
        );
        assert_eq!(decoded_path("//a///b/").as_deref(), Some("/a/b/"));
        assert_eq!(decoded_path("/").as_deref(), Some("/"));
        assert_eq!(decoded_path("/caf%C3%A9").as_deref(), Some("/café"));
        for bad in [
            "/users/alice/../bob",
            "/users/alice/%2e%2e/bob",
            "/users/alice%2Fbob",
            "/a%5Cb",
            "/a/./b",
            "/a%00b",
            "/a%zz",
            "/a%ff",
            "/x/..;/admin",
            "/x/.;jsessionid=1/admin",
            "/admin;x/users",
            "/admin%3Bx/users",
        ] {
            assert_eq!(decoded_path(bad), None, "{bad}");
        }
    }
}
