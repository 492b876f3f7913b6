//! The server side of Cognito's SRP (`USER_SRP_AUTH` → `PASSWORD_VERIFIER`), as the
//! official clients (Amplify JS, amazon-cognito-identity-js, pycognito, the AWS SDKs'
//! helpers) compute it: SRP-6a over RFC 5054's 3072-bit group with g = 2 and SHA-256,
//! where
//!
//! - `hex(n)` is `n` in hexadecimal, made an even number of digits and prefixed with
//!   `00` when its first digit has the high bit set (a positive two's-complement form,
//!   *not* padded to the length of N), and `H(hex…)` hashes the bytes those digits spell;
//! - `k = H(hex(N) ‖ hex(g))`, `u = H(hex(A) ‖ hex(B))`;
//! - `x = H(hex(salt) ‖ SHA256-hex(poolName ‖ userIdForSrp ‖ ":" ‖ password))`, where
//!   `poolName` is the pool id after its `<region>_` and `userIdForSrp` the username;
//! - `v = gˣ`, `B = k·v + gᵇ`, the shared `S = (A·vᵘ)ᵇ`;
//! - the key is HKDF-SHA256(ikm = bytes of hex(S), salt = bytes of hex(u),
//!   info = "Caldera Derived Key"), 16 bytes;
//! - the client proves it with `PASSWORD_CLAIM_SIGNATURE =
//!   base64(HMAC-SHA256(key, poolName ‖ userIdForSrp ‖ SECRET_BLOCK bytes ‖ TIMESTAMP))`.
//!
//! Written here because no maintained Rust crate implements Cognito's variant (its
//! padding and HKDF step differ from RFC 5054's); the test suite checks it against an
//! independent client implementation (pycognito) and Amplify JS in the browser. The
//! arithmetic is num-bigint's (pure Rust: no OpenSSL in the workspace); a stand-in needs
//! no constant-time big numbers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use num_bigint::BigUint;
use rand::TryRngCore as _;
use sha2::{Digest as _, Sha256};

/// RFC 5054's 3072-bit group prime.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the random source failed: {0}")]
pub struct SrpError(String);

pub type Result<T, E = SrpError> = std::result::Result<T, E>;

/// N, parsed once (every modular operation uses it).
fn n() -> &'static BigUint {
    static N: std::sync::LazyLock<BigUint> =
        std::sync::LazyLock::new(|| parse_hex(N_HEX).unwrap_or_default());
    &N
}

fn g() -> BigUint {
    BigUint::from(2u32)
}

/// `n` in Cognito's hex form (module docs).
pub fn pad_hex(n: &BigUint) -> String {
    let mut hex = n.to_str_radix(16);
    if hex.len() % 2 == 1 {
        hex.insert(0, '0');
    } else if hex.starts_with(['8', '9', 'a', 'b', 'c', 'd', 'e', 'f']) {
        hex.insert_str(0, "00");
    }
    hex
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `H(hex…)`: SHA-256 of the bytes the digits spell, as a number.
fn hash_hex(hex: &str) -> BigUint {
    BigUint::from_bytes_be(&Sha256::digest(hex_bytes(hex)))
}

fn k() -> &'static BigUint {
    static K: std::sync::LazyLock<BigUint> =
        std::sync::LazyLock::new(|| hash_hex(&format!("{}{}", pad_hex(n()), pad_hex(&g()))));
    &K
}

fn x(pool_name: &str, user_id: &str, password: &str, salt: &BigUint) -> BigUint {
    let inner = hex_encode(&Sha256::digest(format!("{pool_name}{user_id}:{password}")));
    hash_hex(&format!("{}{inner}", pad_hex(salt)))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| SrpError(e.to_string()))?;
    Ok(bytes)
}

fn mod_exp(base: &BigUint, exponent: &BigUint) -> BigUint {
    base.modpow(exponent, n())
}

fn mod_mul(a: &BigUint, b: &BigUint) -> BigUint {
    (a * b) % n()
}

fn parse_hex(hex: &str) -> Option<BigUint> {
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    BigUint::parse_bytes(hex.as_bytes(), 16)
}

fn session_key(s: &BigUint, u: &BigUint) -> [u8; 16] {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(&hex_bytes(&pad_hex(u))), &hex_bytes(&pad_hex(s)));
    let mut key = [0u8; 16];
    let _ = hk.expand(b"Caldera Derived Key", &mut key);
    key
}

fn claim(key: &[u8; 16]) -> Hmac<Sha256> {
    <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// What a pool stores for a user's password: the salt and `v = gˣ`, in hex.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub salt_hex: String,
    pub v_hex: String,
}

impl Verifier {
    pub fn new(pool_name: &str, user_id: &str, password: &str) -> Result<Self> {
        let salt = BigUint::from_bytes_be(&random_bytes::<16>()?);
        let x = x(pool_name, user_id, password, &salt);
        Ok(Self {
            salt_hex: pad_hex(&salt),
            v_hex: pad_hex(&mod_exp(&g(), &x)),
        })
    }

    /// A verifier of a password nobody knows: what an unknown user is challenged with,
    /// so the answer to `USER_SRP_AUTH` does not tell whether the user exists.
    pub fn decoy(pool_name: &str, user_id: &str) -> Result<Self> {
        let throwaway = random_bytes::<32>()?;
        Self::new(pool_name, user_id, &hex_encode(&throwaway))
    }
}

/// The server's half of one SRP round: `b` stays here, `B` and the secret block go to
/// the client.
#[derive(Debug, Clone)]
pub struct ServerRound {
    b: Vec<u8>,
    pub b_pub_hex: String,
    pub secret_block: String,
}

#[derive(Debug)]
pub enum VerifyError {
    /// `A` is not a number, or `A mod N` is zero.
    BadA,
}

impl ServerRound {
    pub fn start(verifier: &Verifier) -> Result<Self> {
        let v = parse_hex(&verifier.v_hex).unwrap_or_default();
        let kv = mod_mul(k(), &v);
        loop {
            let b = random_bytes::<32>()?;
            let b_pub = (&kv + mod_exp(&g(), &BigUint::from_bytes_be(&b))) % n();
            if b_pub.bits() == 0 {
                continue;
            }
            return Ok(Self {
                b: b.to_vec(),
                b_pub_hex: pad_hex(&b_pub),
                secret_block: STANDARD.encode(random_bytes::<64>()?),
            });
        }
    }

    /// Checks the client's `PASSWORD_CLAIM_SIGNATURE` for `A`.
    pub fn verify(
        &self,
        verifier: &Verifier,
        pool_name: &str,
        user_id: &str,
        a_hex: &str,
        timestamp: &str,
        signature: &str,
    ) -> Result<bool, VerifyError> {
        let a = parse_hex(a_hex).ok_or(VerifyError::BadA)?;
        if (&a % n()).bits() == 0 {
            return Err(VerifyError::BadA);
        }
        let b_pub = parse_hex(&self.b_pub_hex).unwrap_or_default();
        let u = hash_hex(&format!("{}{}", pad_hex(&a), pad_hex(&b_pub)));
        if u.bits() == 0 {
            return Ok(false);
        }
        let v = parse_hex(&verifier.v_hex).unwrap_or_default();
        let b = BigUint::from_bytes_be(&self.b);
        let s = mod_exp(&mod_mul(&a, &mod_exp(&v, &u)), &b);
        let key = session_key(&s, &u);
        let (Ok(block), Ok(given)) = (
            STANDARD.decode(&self.secret_block),
            STANDARD.decode(signature),
        ) else {
            return Ok(false);
        };
        let mut mac = claim(&key);
        mac.update(pool_name.as_bytes());
        mac.update(user_id.as_bytes());
        mac.update(&block);
        mac.update(timestamp.as_bytes());
        Ok(mac.verify_slice(&given).is_ok())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A client's half, as Cognito's clients compute it (the integration tests use
    /// independent clients: pycognito, Amplify JS).
    fn client_signature(
        pool_name: &str,
        user_id: &str,
        password: &str,
        salt_hex: &str,
        b_pub_hex: &str,
        secret_block: &str,
        timestamp: &str,
    ) -> (String, String) {
        let a = BigUint::from_bytes_be(&random_bytes::<32>().unwrap());
        let a_pub = mod_exp(&g(), &a);
        let b_pub = parse_hex(b_pub_hex).unwrap();
        let salt = parse_hex(salt_hex).unwrap();
        let u = hash_hex(&format!("{}{}", pad_hex(&a_pub), pad_hex(&b_pub)));
        let x = x(pool_name, user_id, password, &salt);
        let kgx = mod_mul(k(), &mod_exp(&g(), &x));
        let base = (&b_pub + n() - kgx) % n();
        let exp = &a + &u * &x;
        let s = mod_exp(&base, &exp);
        let mut mac = claim(&session_key(&s, &u));
        mac.update(pool_name.as_bytes());
        mac.update(user_id.as_bytes());
        mac.update(&STANDARD.decode(secret_block).unwrap());
        mac.update(timestamp.as_bytes());
        (
            pad_hex(&a_pub),
            STANDARD.encode(mac.finalize().into_bytes()),
        )
    }

    #[test]
    fn padding_follows_cognitos_clients() {
        let h = |s: &str| pad_hex(&parse_hex(s).unwrap());
        assert_eq!(h("1"), "01");
        assert_eq!(h("7f"), "7f");
        assert_eq!(h("80"), "0080");
        assert_eq!(h("abc"), "0abc");
        assert_eq!(h("ffff"), "00ffff");
    }

    #[test]
    fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let verifier = Verifier::new("LocalPool", "alice", "Correct-horse-1").unwrap();
        let round = ServerRound::start(&verifier).unwrap();
        let ts = "Mon Nov 30 03:44:40 UTC 2026";
        let check = |user: &str, a: &str, ts: &str, sig: &str| {
            round
                .verify(&verifier, "LocalPool", user, a, ts, sig)
                .unwrap()
        };
        let sign = |password: &str| {
            client_signature(
                "LocalPool",
                "alice",
                password,
                &verifier.salt_hex,
                &round.b_pub_hex,
                &round.secret_block,
                ts,
            )
        };
        let (a, sig) = sign("Correct-horse-1");
        assert!(check("alice", &a, ts, &sig));
        // The signature covers the timestamp and the user.
        assert!(!check("alice", &a, "Tue Dec 1 00:00:00 UTC 2026", &sig));
        assert!(!check("bob", &a, ts, &sig));
        let (a, sig) = sign("Wrong-horse-1");
        assert!(!check("alice", &a, ts, &sig));
    }

    #[test]
    fn a_zero_or_malformed_a_is_refused() {
        let verifier = Verifier::new("P", "u", "pw").unwrap();
        let round = ServerRound::start(&verifier).unwrap();
        for a in ["00", N_HEX, "xyz"] {
            assert!(matches!(
                round.verify(&verifier, "P", "u", a, "t", "c2ln"),
                Err(VerifyError::BadA)
            ));
        }
    }
}
