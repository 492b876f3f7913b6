//! Passkey public keys as files carry them: the COSE_Key bytes of the credential's attested
//! data (base64url in the import and export format). Read into webauthn-rs-core's
//! `COSEKey` — only the algorithms rp-server verifies: ES256 on P-256 (the point checked on
//! the curve) and RS256 (at least 2048 bits) — and written back the same way. Written here
//! because webauthn-rs-core reads COSE keys only inside an attestation object.

use ciborium::Value;
use webauthn_rs_core::proto::{
    COSEAlgorithm, COSEEC2Key, COSEKey, COSEKeyType, COSERSAKey, ECDSACurve,
};

/// Why a public key cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the public key is not CBOR")]
    NotCbor,
    #[error("the public key is not a COSE_Key: {0}")]
    Malformed(&'static str),
    #[error("COSE algorithm {0} is not one rp-server verifies (ES256 = -7, RS256 = -257)")]
    Algorithm(i128),
    #[error("the public key is not a point on P-256")]
    NotOnCurve,
    #[error("the RSA key is shorter than 2048 bits")]
    WeakRsa,
}

const MAX_KEY_BYTES: usize = 2048;

/// Reads a COSE_Key (ES256 or RS256).
pub fn parse(bytes: &[u8]) -> Result<COSEKey, KeyError> {
    if bytes.len() > MAX_KEY_BYTES {
        return Err(KeyError::Malformed("longer than any ES256 or RS256 key"));
    }
    let mut reader = bytes;
    let value: Value = ciborium::from_reader(&mut reader).map_err(|_| KeyError::NotCbor)?;
    if !reader.is_empty() {
        return Err(KeyError::Malformed("bytes after the key"));
    }
    let Value::Map(entries) = value else {
        return Err(KeyError::Malformed("not a map"));
    };
    let get = |label: i128| {
        entries
            .iter()
            .find(|(k, _)| k.as_integer().map(i128::from) == Some(label))
            .map(|(_, v)| v)
    };
    let int = |label: i128, missing: &'static str| {
        get(label)
            .and_then(Value::as_integer)
            .map(i128::from)
            .ok_or(KeyError::Malformed(missing))
    };
    let bytes_at = |label: i128, missing: &'static str| {
        get(label)
            .and_then(Value::as_bytes)
            .cloned()
            .ok_or(KeyError::Malformed(missing))
    };
    let key_type = int(1, "no key type (label 1)")?;
    let algorithm = int(3, "no algorithm (label 3)")?;
    match (key_type, algorithm) {
        (2, -7) => {
            if int(-1, "no curve (label -1)")? != 1 {
                return Err(KeyError::Malformed("ES256 needs the curve P-256 (1)"));
            }
            let x = bytes_at(-2, "no x coordinate (label -2)")?;
            let y = bytes_at(-3, "no y coordinate (label -3)")?;
            if x.len() != 32 || y.len() != 32 {
                return Err(KeyError::Malformed("x and y must be 32 bytes each"));
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            p256::PublicKey::from_sec1_bytes(&point).map_err(|_| KeyError::NotOnCurve)?;
            Ok(COSEKey {
                type_: COSEAlgorithm::ES256,
                key: COSEKeyType::EC_EC2(COSEEC2Key {
                    curve: ECDSACurve::SECP256R1,
                    x,
                    y,
                }),
            })
        }
        (3, -257) => {
            let n = bytes_at(-1, "no modulus (label -1)")?;
            let e = bytes_at(-2, "no exponent (label -2)")?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < 256 {
                return Err(KeyError::WeakRsa);
            }
            let e: [u8; 3] = e
                .try_into()
                .map_err(|_| KeyError::Malformed("the exponent must be 3 bytes (65537)"))?;
            Ok(COSEKey {
                type_: COSEAlgorithm::RS256,
                key: COSEKeyType::RSA(COSERSAKey { n, e }),
            })
        }
        (_, other) if other != -7 && other != -257 => Err(KeyError::Algorithm(other)),
        _ => Err(KeyError::Malformed(
            "the key type does not match the algorithm",
        )),
    }
}

/// The COSE_Key bytes of a stored key (`None` for a kind rp-server never stores).
pub fn encode(key: &COSEKey) -> Option<Vec<u8>> {
    let int = |i: i64| Value::Integer(i.into());
    let map = match (&key.type_, &key.key) {
        (COSEAlgorithm::ES256, COSEKeyType::EC_EC2(k)) => Value::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), Value::Bytes(k.x.clone())),
            (int(-3), Value::Bytes(k.y.clone())),
        ]),
        (COSEAlgorithm::RS256, COSEKeyType::RSA(k)) => Value::Map(vec![
            (int(1), int(3)),
            (int(3), int(-257)),
            (int(-1), Value::Bytes(k.n.clone())),
            (int(-2), Value::Bytes(k.e.to_vec())),
        ]),
        _ => return None,
    };
    let mut out = Vec::new();
    ciborium::into_writer(&map, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    }

    fn ec(x: Vec<u8>, y: Vec<u8>, alg: i64, crv: i64) -> Vec<u8> {
        let int = |i: i64| Value::Integer(i.into());
        cbor(&Value::Map(vec![
            (int(1), int(2)),
            (int(3), int(alg)),
            (int(-1), int(crv)),
            (int(-2), Value::Bytes(x)),
            (int(-3), Value::Bytes(y)),
        ]))
    }

    #[test]
    fn es256_keys_round_trip_and_bad_ones_are_named() {
        // The P-256 generator point.
        let x = hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
        let y = hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
        let bytes = ec(x.clone(), y.clone(), -7, 1);
        let key = parse(&bytes).unwrap();
        assert_eq!(encode(&key).unwrap(), bytes);

        let mut off_curve = y.clone();
        off_curve[31] ^= 1;
        assert_eq!(
            parse(&ec(x.clone(), off_curve, -7, 1)),
            Err(KeyError::NotOnCurve)
        );
        assert_eq!(
            parse(&ec(x.clone(), y.clone(), -8, 1)),
            Err(KeyError::Algorithm(-8))
        );
        assert_eq!(
            parse(&ec(x.clone(), y.clone(), -35, 2)),
            Err(KeyError::Algorithm(-35))
        );
        assert!(matches!(
            parse(&ec(x.clone(), y.clone(), -7, 2)),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(
            parse(&ec(x[..31].to_vec(), y.clone(), -7, 1)),
            Err(KeyError::Malformed(_))
        ));
        assert_eq!(parse(b"\xff\x00"), Err(KeyError::NotCbor));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(parse(&trailing), Err(KeyError::Malformed(_))));
    }

    #[test]
    fn rs256_keys_need_2048_bits() {
        let int = |i: i64| Value::Integer(i.into());
        let rsa = |n: Vec<u8>| {
            cbor(&Value::Map(vec![
                (int(1), int(3)),
                (int(3), int(-257)),
                (int(-1), Value::Bytes(n)),
                (int(-2), Value::Bytes(vec![1, 0, 1])),
            ]))
        };
        let mut n = vec![0xc5; 256];
        n[255] |= 1;
        let key = parse(&rsa(n.clone())).unwrap();
        assert_eq!(encode(&key).unwrap(), rsa(n));
        assert_eq!(parse(&rsa(vec![0xc5; 255])), Err(KeyError::WeakRsa));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
