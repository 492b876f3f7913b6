//! RS256 tokens with Cognito's claims, and the JWKS that verifies them. As in Cognito,
//! ID tokens and access tokens are signed with two different keys, both published.

use anyhow::Context as _;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

/// Which of the pool's two signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Id,
    Access,
}

struct KeyPair {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Value,
}

impl KeyPair {
    /// A fresh 2048-bit RSA key (tokens do not outlive the process, like its users).
    fn generate() -> anyhow::Result<Self> {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("generating a signing key failed"))?;
        let pkcs8 = rsa
            .as_der()
            .map_err(|_| anyhow::anyhow!("encoding the signing key failed"))?;
        let pem = pem_private_key(pkcs8.as_ref());
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).context("the signing key")?;
        let public = rsa.public_key();
        let (n, e) = (
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        );
        let kid = URL_SAFE_NO_PAD.encode(sha2_prefix(n));
        let decoding = DecodingKey::from_rsa_raw_components(n, e);
        let jwk = json!({
            "alg": "RS256",
            "e": URL_SAFE_NO_PAD.encode(e),
            "kid": kid,
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(n),
            "use": "sig",
        });
        Ok(Self {
            kid,
            encoding,
            decoding,
            jwk,
        })
    }
}

pub struct Signer {
    id: KeyPair,
    access: KeyPair,
}

impl Signer {
    pub fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            id: KeyPair::generate()?,
            access: KeyPair::generate()?,
        })
    }

    fn pair(&self, key: Key) -> &KeyPair {
        match key {
            Key::Id => &self.id,
            Key::Access => &self.access,
        }
    }

    /// Both keys, as Cognito's `jwks.json` lists them.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.id.jwk, self.access.jwk] })
    }

    pub fn sign(&self, key: Key, claims: &Value) -> anyhow::Result<String> {
        let pair = self.pair(key);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(pair.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &pair.encoding)?)
    }

    /// Verifies one of our own tokens signed with `key` (signature, `exp`, `iss`) and
    /// returns its claims.
    pub fn verify(&self, key: Key, token: &str, issuer: &str) -> Option<Value> {
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.leeway = 0;
        jsonwebtoken::decode::<Value>(token, &self.pair(key).decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// A PKCS#8 private key as PEM (`-----BEGIN PRIVATE KEY-----`), 64 characters a line.
fn pem_private_key(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn sha2_prefix(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)[..16].to_vec()
}
