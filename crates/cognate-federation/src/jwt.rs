//! Compact JWS parsing, JWKs and signature checks (aws-lc-rs).

use aws_lc_rs::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// Tokens longer than this are refused unparsed (the API allows 50 000
/// characters).
pub(crate) const MAX_TOKEN_LEN: usize = 50_000;

/// A token split and decoded, not yet verified.
pub(crate) struct Jwt<'a> {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    /// `<header>.<payload>` as received: what the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) signature: Vec<u8>,
}

/// Splits a compact JWS into its decoded parts; `None` if it is not one.
pub(crate) fn parse(token: &str) -> Option<Jwt<'_>> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let (signing_input, sig_b64) = token.rsplit_once('.')?;
    let (header_b64, payload_b64) = signing_input.split_once('.')?;
    if payload_b64.contains('.') {
        return None;
    }
    let header = decode_object(header_b64)?;
    let claims = decode_object(payload_b64)?;
    let signature = URL_SAFE_NO_PAD.decode(sig_b64).ok()?;
    Some(Jwt {
        header,
        claims,
        signing_input,
        signature,
    })
}

fn decode_object(b64: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(b64).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The asymmetric JWS algorithms accepted. `none` and `HS*` are not here and
/// never will be: a verifier that only holds public keys must not accept
/// MACs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
}

impl Alg {
    pub(crate) fn from_name(name: &str) -> Option<Alg> {
        Some(match name {
            "RS256" => Alg::RS256,
            "RS384" => Alg::RS384,
            "RS512" => Alg::RS512,
            "PS256" => Alg::PS256,
            "PS384" => Alg::PS384,
            "PS512" => Alg::PS512,
            "ES256" => Alg::ES256,
            "ES384" => Alg::ES384,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
        }
    }

    fn rsa_params(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Alg::ES256 | Alg::ES384 => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

impl Curve {
    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// Big-endian modulus and exponent without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed point `04 || x || y`.
    Ec { curve: Curve, point: Vec<u8> },
}

/// One usable verification key from a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jwk {
    pub(crate) kid: Option<String>,
    /// The key's `alg`, when it states one.
    pub(crate) alg: Option<String>,
    pub(crate) key: PublicKey,
}

/// Members that only private or symmetric keys have.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl Jwk {
    /// Reads one JWKS entry; `Err` says why it is not used.
    pub(crate) fn from_json(v: &Value) -> Result<Jwk, &'static str> {
        let obj = v.as_object().ok_or("not an object")?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err("contains private or symmetric key material");
        }
        let opt_str = |name: &str| -> Result<Option<String>, &'static str> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err("member of the wrong type"),
            }
        };
        if let Some(u) = opt_str("use")?
            && u != "sig"
        {
            return Err("not a signature key");
        }
        if let Some(ops) = obj.get("key_ops") {
            let ok = ops
                .as_array()
                .is_some_and(|a| a.iter().any(|o| o.as_str() == Some("verify")));
            if !ok {
                return Err("key_ops does not include verify");
            }
        }
        let kid = opt_str("kid")?;
        let alg = opt_str("alg")?;
        let b64 = |name: &str| -> Result<Vec<u8>, &'static str> {
            let s = obj
                .get(name)
                .and_then(Value::as_str)
                .ok_or("missing key member")?;
            URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|_| "bad base64url in key member")
        };
        let key = match obj.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                let n = strip_leading_zeros(b64("n")?);
                let e = strip_leading_zeros(b64("e")?);
                if bit_len(&n) < 2048 || n.len() > 1024 {
                    return Err("RSA modulus not between 2048 and 8192 bits");
                }
                if e.is_empty() || e.len() > 8 {
                    return Err("bad RSA exponent");
                }
                PublicKey::Rsa { n, e }
            }
            Some("EC") => {
                let curve = match obj.get("crv").and_then(Value::as_str) {
                    Some("P-256") => Curve::P256,
                    Some("P-384") => Curve::P384,
                    _ => return Err("unsupported curve"),
                };
                let (x, y) = (b64("x")?, b64("y")?);
                let len = curve.coordinate_len();
                if x.len() != len || y.len() != len {
                    return Err("bad EC coordinate length");
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicKey::Ec { curve, point }
            }
            _ => return Err("unsupported key type"),
        };
        Ok(Jwk { kid, alg, key })
    }

    /// Whether this key may verify a token whose header says `alg`: the key's
    /// own `alg` (if stated) must be the same, and the key type must fit.
    pub(crate) fn compatible(&self, alg: Alg) -> bool {
        if let Some(own) = &self.alg
            && own != alg.name()
        {
            return false;
        }
        match (&self.key, alg) {
            (PublicKey::Rsa { .. }, a) => a.rsa_params().is_some(),
            (PublicKey::Ec { curve, .. }, Alg::ES256) => *curve == Curve::P256,
            (PublicKey::Ec { curve, .. }, Alg::ES384) => *curve == Curve::P384,
            (PublicKey::Ec { .. }, _) => false,
        }
    }

    /// Checks `signature` over `message` (the caller checked
    /// [`compatible`](Self::compatible)).
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        if !self.compatible(alg) || signature.is_empty() {
            return false;
        }
        match &self.key {
            PublicKey::Rsa { n, e } => match alg.rsa_params() {
                Some(params) => RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .verify(params, message, signature)
                .is_ok(),
                None => false,
            },
            PublicKey::Ec { curve, point } => {
                let algorithm = match curve {
                    Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }
}

fn strip_leading_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros);
    v
}

fn bit_len(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(first) => (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

/// Reads a NumericDate claim (integer or fractional seconds; fractions are
/// truncated). `Err` when present but not a number.
pub(crate) fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, ()> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64()
                && f.is_finite()
            {
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(
                    f.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64
                ))
            } else {
                Err(())
            }
        }
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn parse_shapes() {
        let h = b64(r#"{"alg":"RS256"}"#);
        let p = b64(r#"{"sub":"x"}"#);
        assert!(parse(&format!("{h}.{p}.")).is_some());
        assert!(parse(&format!("{h}.{p}.AAAA")).is_some());
        assert!(parse(&format!("{h}.{p}")).is_none());
        assert!(parse(&format!("{h}.{p}.AA.BB")).is_none());
        assert!(parse(&format!("{h}.{p}.A*")).is_none());
        assert!(parse(&format!("{h}.{}.", b64("[1]"))).is_none());
        assert!(parse(&format!("{}.{p}.", b64("not json"))).is_none());
        assert!(parse("").is_none());
        assert!(parse("a.b.c").is_none());
        assert!(parse(&"a".repeat(MAX_TOKEN_LEN + 1)).is_none());
    }

    #[test]
    fn jwk_refusals() {
        let n = URL_SAFE_NO_PAD.encode([0xC0u8; 256]);
        let ok = json!({"kty":"RSA","n":n,"e":"AQAB","kid":"k"});
        assert!(Jwk::from_json(&ok).is_ok());
        let mut private = ok.clone();
        private["d"] = json!("AQAB");
        assert!(Jwk::from_json(&private).is_err());
        let mut enc = ok.clone();
        enc["use"] = json!("enc");
        assert!(Jwk::from_json(&enc).is_err());
        let small = json!({"kty":"RSA","n":URL_SAFE_NO_PAD.encode([0xC0u8; 128]),"e":"AQAB"});
        assert!(Jwk::from_json(&small).is_err());
        assert!(Jwk::from_json(&json!({"kty":"oct","k":"AAAA"})).is_err());
        assert!(Jwk::from_json(&json!({"kty":"OKP","crv":"Ed25519","x":"AAAA"})).is_err());
        // Leading zero in n is tolerated.
        let mut padded = vec![0u8];
        padded.extend([0xC0u8; 256]);
        let z = json!({"kty":"RSA","n":URL_SAFE_NO_PAD.encode(padded),"e":"AQAB"});
        assert!(Jwk::from_json(&z).is_ok());
    }

    #[test]
    fn compatibility() {
        let n = URL_SAFE_NO_PAD.encode([0xC0u8; 256]);
        let rsa = Jwk::from_json(&json!({"kty":"RSA","n":n,"e":"AQAB"})).ok();
        let rsa = rsa.as_ref();
        assert!(rsa.is_some_and(|k| k.compatible(Alg::RS512) && k.compatible(Alg::PS256)));
        assert!(rsa.is_some_and(|k| !k.compatible(Alg::ES256)));
        let rs256 = Jwk::from_json(&json!({"kty":"RSA","n":n,"e":"AQAB","alg":"RS256"})).ok();
        assert!(
            rs256
                .as_ref()
                .is_some_and(|k| k.compatible(Alg::RS256) && !k.compatible(Alg::RS512))
        );
        assert_eq!(Alg::from_name("HS256"), None);
        assert_eq!(Alg::from_name("none"), None);
    }

    #[test]
    fn numeric_claims() {
        let c = json!({"a": 5, "b": 5.9, "c": "5", "d": null});
        let c = c.as_object().cloned().unwrap_or_default();
        assert_eq!(numeric_claim(&c, "a"), Ok(Some(5)));
        assert_eq!(numeric_claim(&c, "b"), Ok(Some(5)));
        assert_eq!(numeric_claim(&c, "c"), Err(()));
        assert_eq!(numeric_claim(&c, "d"), Ok(None));
        assert_eq!(numeric_claim(&c, "e"), Ok(None));
    }
}
