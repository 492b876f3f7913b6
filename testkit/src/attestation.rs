//! A test attestation CA: a self-signed root and a batch attestation certificate for one
//! AAGUID, laid out as WebAuthn §8.2.1 requires of a `packed` statement's certificate
//! (C, O, OU "Authenticator Attestation", CN; `CA:FALSE`; the AAGUID extension). The
//! software authenticator signs `packed` statements with it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

/// A root's key usages (verifiers require them of a CA).
fn ca_usages() -> Vec<KeyUsagePurpose> {
    vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign]
}

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
        root.key_usages = ca_usages();
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
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
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

/// A signer of test FIDO metadata BLOBs: a root (given to rp-server as
/// `RP_FIDO_MDS_ROOT_CERT`) and a leaf that signs (ES256), carried in the JWS's `x5c`.
pub struct MdsSigner {
    pub root_pem: String,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

impl MdsSigner {
    pub fn new() -> anyhow::Result<Self> {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut root = CertificateParams::new(Vec::<String>::new())?;
        root.distinguished_name
            .push(DnType::CommonName, "rp-server test metadata root");
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = ca_usages();
        let root = CertifiedIssuer::self_signed(root, root_key)?;
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut leaf = CertificateParams::new(Vec::<String>::new())?;
        leaf.distinguished_name
            .push(DnType::CommonName, "rp-server test metadata signer");
        leaf.is_ca = IsCa::ExplicitNoCa;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let leaf_cert = leaf.signed_by(&leaf_key, &root)?;
        Ok(Self {
            root_pem: root.pem(),
            leaf_der: leaf_cert.der().to_vec(),
            leaf_key_der: leaf_key.serialize_der(),
        })
    }

    /// A BLOB listing `entries` (MDS3 `entries` objects), number 7.
    pub fn blob(&self, entries: serde_json::Value) -> anyhow::Result<String> {
        self.blob_numbered(7, entries)
    }

    /// A BLOB with serial number `no`.
    pub fn blob_numbered(&self, no: u64, entries: serde_json::Value) -> anyhow::Result<String> {
        use base64::Engine as _;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("JWT".into());
        header.x5c = Some(vec![
            base64::engine::general_purpose::STANDARD.encode(&self.leaf_der),
        ]);
        let payload = serde_json::json!({
            "legalHeader": "test",
            "no": no,
            "nextUpdate": "2099-01-01",
            "entries": entries,
        });
        Ok(jsonwebtoken::encode(
            &header,
            &payload,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.leaf_key_der),
        )?)
    }
}

/// An MDS3 entry for model `aaguid` whose attestation chains to `roots`, with its latest
/// status.
/// The icon every test metadata entry carries: a 1×1 PNG.
pub const TEST_ICON: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

pub fn mds_entry(aaguid: uuid::Uuid, roots: &[&AttestationCa], status: &str) -> serde_json::Value {
    use base64::Engine as _;
    let roots: Vec<String> = roots
        .iter()
        .map(|r| base64::engine::general_purpose::STANDARD.encode(&r.root_der))
        .collect();
    serde_json::json!({
        "aaguid": aaguid,
        "metadataStatement": {
            "description": format!("Test authenticator {aaguid}"),
            "icon": TEST_ICON,
            "attestationRootCertificates": roots,
        },
        "statusReports": [
            { "status": "FIDO_CERTIFIED_L1", "effectiveDate": "2024-01-01" },
            { "status": status, "effectiveDate": "2025-01-01" },
        ],
        "timeOfLastStatusChange": "2025-01-01",
    })
}
