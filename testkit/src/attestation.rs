//! A test attestation CA: a self-signed root and a batch attestation certificate for one
//! AAGUID, laid out as WebAuthn §8.2.1 requires of a `packed` statement's certificate
//! (C, O, OU "Authenticator Attestation", CN; `CA:FALSE`; the AAGUID extension). The
//! software authenticator signs `packed` statements with it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType, IsCa, KeyPair,
    PKCS_ECDSA_P256_SHA256,
};

/// `id-fido-gen-ce-aaguid`.
const AAGUID_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4];

pub struct AttestationCa {
    /// The root, as a relying party's trust store (or a metadata statement) holds it.
    pub root_pem: String,
    pub root_der: Vec<u8>,
    /// The batch certificate the statements carry in `x5c`.
    pub leaf_der: Vec<u8>,
    pub(crate) leaf_key: SigningKey,
}

impl AttestationCa {
    /// A root and a batch certificate for authenticators of model `aaguid`.
    pub fn new(aaguid: [u8; 16]) -> anyhow::Result<Self> {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut root = CertificateParams::new(Vec::<String>::new())?;
        root.distinguished_name
            .push(DnType::CommonName, "rp-server test attestation root");
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root = CertifiedIssuer::self_signed(root, root_key)?;

        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut leaf = CertificateParams::new(Vec::<String>::new())?;
        for (ty, value) in [
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "rp-server tests"),
            (DnType::OrganizationalUnitName, "Authenticator Attestation"),
            (DnType::CommonName, "Test Authenticator"),
        ] {
            leaf.distinguished_name.push(ty, value);
        }
        leaf.is_ca = IsCa::ExplicitNoCa;
        // The extension's value is an OCTET STRING holding the 16 bytes.
        let mut content = vec![0x04, 0x10];
        content.extend_from_slice(&aaguid);
        leaf.custom_extensions = vec![CustomExtension::from_oid_content(AAGUID_OID, content)];
        let leaf_cert = leaf.signed_by(&leaf_key, &root)?;
        Ok(Self {
            root_pem: root.pem(),
            root_der: root.der().to_vec(),
            leaf_der: leaf_cert.der().to_vec(),
            leaf_key: SigningKey::from_pkcs8_der(&leaf_key.serialize_der())?,
        })
    }
}
