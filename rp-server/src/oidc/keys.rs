//! The provider's signing keys (`RP_OIDC_SIGNING_KEY`): one or two PEM private keys,
//! P-256 (ES256) or RSA (RS256, 2048-8192 bits). The first signs; every key is in the
//! JWKS, so a new key can be published before it signs (rotation). Signing and the public
//! JWKs are jsonwebtoken's (decision 0014); the key id is the RFC 7638 thumbprint.

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

pub struct SigningKey {
    alg: Algorithm,
    kid: String,
    key: EncodingKey,
    jwk: Jwk,
}

/// The keys, in the order given; the first signs.
pub struct SigningKeys {
    keys: Vec<SigningKey>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("SigningKeys").field("kids", &kids).finish()
    }
}

impl SigningKeys {
    /// The keys in `pem` (one or two concatenated PEM blocks). The error says what is
    /// wrong without quoting the key.
    pub fn from_pem(pem_text: &str) -> Result<Self, String> {
        let blocks =
            pem::parse_many(pem_text.as_bytes()).map_err(|e| format!("is not PEM ({e})"))?;
        if blocks.is_empty() || blocks.len() > 2 {
            return Err(format!(
                "must hold one or two PEM private keys (found {})",
                blocks.len()
            ));
        }
        let keys = blocks
            .iter()
            .enumerate()
            .map(|(i, block)| key(block).map_err(|e| format!("key {}: {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.len() == 2 && keys[0].kid == keys[1].kid {
            return Err("holds the same key twice".to_owned());
        }
        Ok(Self { keys })
    }

    /// The public keys, for `/oidc/jwks`.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    /// The algorithms of the keys (`id_token_signing_alg_values_supported`).
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = self.keys.iter().map(|k| alg_name(k.alg)).collect();
        algs.dedup();
        algs
    }

    /// A JWT of `claims`, signed by the first key and naming it in `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
        let signer = &self.keys[0];
        let mut header = Header::new(signer.alg);
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, claims, &signer.key)
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        _ => "RS256",
    }
}

fn key(block: &pem::Pem) -> Result<SigningKey, String> {
    let text = pem::encode(block);
    let (alg, key) = match block.tag() {
        // PKCS#8: P-256 or RSA, whichever parses.
        "PRIVATE KEY" => match EncodingKey::from_ec_pem(text.as_bytes()) {
            Ok(key) if Jwk::from_encoding_key(&key, Algorithm::ES256).is_ok() => {
                (Algorithm::ES256, key)
            }
            _ => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(text.as_bytes())
                    .map_err(|_| "is neither a P-256 nor an RSA private key".to_owned())?,
            ),
        },
        "RSA PRIVATE KEY" => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(text.as_bytes())
                .map_err(|_| "is not a valid RSA private key".to_owned())?,
        ),
        "EC PRIVATE KEY" => {
            return Err(
                "is a SEC1 EC key; give it in PKCS#8 (`openssl pkcs8 -topk8 -nocrypt -in key.pem`)"
                    .to_owned(),
            );
        }
        other => return Err(format!("is a `{other}`, not a private key")),
    };
    let mut jwk = Jwk::from_encoding_key(&key, alg).map_err(|_| match alg {
        Algorithm::ES256 => "is not a P-256 key".to_owned(),
        _ => "is not a usable RSA key (2048 to 8192 bits)".to_owned(),
    })?;
    if let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm {
        let bits = base64_len(&rsa.n) * 8;
        if bits < 2048 {
            return Err(format!(
                "is an RSA key of {bits} bits; at least 2048 are needed"
            ));
        }
    }
    // Prove it signs now rather than at the first sign-in.
    jsonwebtoken::encode(&Header::new(alg), &serde_json::json!({}), &key)
        .map_err(|_| "cannot sign".to_owned())?;
    let kid = jwk.thumbprint(ThumbprintHash::SHA256);
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(match alg {
        Algorithm::ES256 => KeyAlgorithm::ES256,
        _ => KeyAlgorithm::RS256,
    });
    Ok(SigningKey { alg, kid, key, jwk })
}

/// Bytes in an unpadded base64url string, leading zero bytes of a big integer dropped.
fn base64_len(b64: &str) -> usize {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .map(|b| b.iter().skip_while(|&&x| x == 0).count())
        .unwrap_or(0)
}

/// A new P-256 private key in PKCS#8 PEM (`rp-server oidc-key`, the tests).
pub fn generate_p256_pem() -> Result<String, String> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let doc = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .map_err(|_| "could not generate a key".to_owned())?;
    Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", doc.as_ref())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn rsa_pem(bits: aws_lc_rs::rsa::KeySize) -> String {
        use aws_lc_rs::encoding::AsDer as _;
        let pair = aws_lc_rs::rsa::KeyPair::generate(bits).unwrap();
        let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().unwrap();
        pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref()))
    }

    fn verifies(keys: &SigningKeys, token: &str) -> bool {
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        let jwks = keys.jwks();
        let jwk = jwks.find(&kid).unwrap();
        let alg = jsonwebtoken::decode_header(token).unwrap().alg;
        let mut v = Validation::new(alg);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
            .is_ok()
    }

    #[test]
    fn p256_and_rsa_keys_sign_what_their_jwks_verify() {
        let ec = generate_p256_pem().unwrap();
        let rsa = rsa_pem(aws_lc_rs::rsa::KeySize::Rsa2048);
        for (pem_text, alg) in [(&ec, "ES256"), (&rsa, "RS256")] {
            let keys = SigningKeys::from_pem(pem_text).unwrap();
            assert_eq!(keys.algorithms(), vec![alg]);
            let token = keys.sign(&serde_json::json!({"sub": "x"})).unwrap();
            assert!(verifies(&keys, &token));
        }
        // Two keys: the first signs, both are published, a token of either verifies.
        let both = SigningKeys::from_pem(&format!("{ec}\n{rsa}")).unwrap();
        assert_eq!(both.jwks().keys.len(), 2);
        assert_eq!(both.algorithms(), vec!["ES256", "RS256"]);
        let old = SigningKeys::from_pem(&rsa).unwrap();
        let token = old.sign(&serde_json::json!({})).unwrap();
        assert!(verifies(&both, &token));
        let header =
            jsonwebtoken::decode_header(both.sign(&serde_json::json!({})).unwrap()).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
    }

    #[test]
    fn unusable_keys_are_refused_with_a_reason() {
        let ec = generate_p256_pem().unwrap();
        let cases = [
            ("", "one or two"),
            ("not pem", "one or two"),
            (&format!("{ec}{ec}"), "same key twice"),
            (&format!("{ec}{ec}{ec}"), "one or two"),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "not a private key",
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
                "PKCS#8",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "neither",
            ),
        ];
        for (pem_text, want) in cases {
            let err = SigningKeys::from_pem(pem_text).unwrap_err();
            assert!(err.contains(want), "{pem_text:?}: {err}");
            assert!(!err.contains("AAAA"));
        }
    }
}
