//! What the one signature check of a sign-in costs on this machine, by the library that
//! makes it (issue 27: the largest single share of rp-server's CPU per sign-in).
//!
//! rp-server verifies an assertion with webauthn-rs-core, which checks its ES256 signature
//! with RustCrypto's `p256` and offers no other provider; aws-lc-rs, rp-server's AEAD and
//! HMAC provider already, is what a verifier hook in webauthn-rs-core would let it use.
//! Both are timed here on the same key, message and signature, each parsing the key as it
//! does in service (webauthn-rs-core from the stored COSE key, aws-lc-rs from its SEC1
//! point), so the difference is what such a hook would save per sign-in.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use webauthn_rs_core::proto::{COSEAlgorithm, COSEEC2Key, COSEKey, COSEKeyType, ECDSACurve};

/// Each library's least disturbed time for one check.
pub struct SignatureCheck {
    pub webauthn_rs: Duration,
    pub aws_lc_rs: Duration,
}

/// Checks per timed batch: enough to dwarf the clock's cost.
const BATCH: u32 = 32;
/// Batches per library, alternating so that the machine's drift falls on both alike
/// (about a quarter of a second in all).
const BATCHES: u32 = 12;

/// Times both libraries (after making sure each accepts the signature and refuses it over
/// an altered message: a check that cannot fail would time nothing).
pub fn measure() -> anyhow::Result<SignatureCheck> {
    let key = <SigningKey as p256::elliptic_curve::Generate>::generate();
    let point = key.verifying_key().to_sec1_point(false);
    let cose = COSEKey {
        type_: COSEAlgorithm::ES256,
        key: COSEKeyType::EC_EC2(COSEEC2Key {
            curve: ECDSACurve::SECP256R1,
            x: point.x().context("an uncompressed point has x")?.to_vec(),
            y: point.y().context("an uncompressed point has y")?.to_vec(),
        }),
    };
    // As an assertion's: 37 bytes of authenticator data, then the client data's SHA-256.
    let mut message = vec![0x5a_u8; 37 + 32];
    let signature: DerSignature = key.sign(&message);
    let signature = signature.as_bytes();
    let aws = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point.as_bytes());

    let webauthn_rs = |m: &[u8]| cose.verify_signature(signature, m).unwrap_or(false);
    let aws_lc_rs = |m: &[u8]| aws.verify(m, signature).is_ok();
    ensure!(
        webauthn_rs(&message) && aws_lc_rs(&message),
        "a valid ES256 signature did not verify"
    );
    message[0] ^= 1;
    ensure!(
        !webauthn_rs(&message) && !aws_lc_rs(&message),
        "an ES256 signature verified over an altered message"
    );
    message[0] ^= 1;

    let mut best = [Duration::MAX; 2];
    for _ in 0..BATCHES {
        for (slot, check) in [&webauthn_rs as &dyn Fn(&[u8]) -> bool, &aws_lc_rs]
            .into_iter()
            .enumerate()
        {
            let started = Instant::now();
            for _ in 0..BATCH {
                ensure!(check(std::hint::black_box(&message)), "a check failed");
            }
            best[slot] = best[slot].min(started.elapsed() / BATCH);
        }
    }
    Ok(SignatureCheck {
        webauthn_rs: best[0],
        aws_lc_rs: best[1],
    })
}
