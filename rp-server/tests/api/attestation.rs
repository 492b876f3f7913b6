//! Attestation against the FIDO Metadata Service: the BLOB's chain to the trusted root
//! and its signature, and policies that require a verifiable attestation.

use std::time::SystemTime;

use rp_server::mds::{MdsError, Metadata, root_from_pem};
use serde_json::json;
use testkit::attestation::{AttestationCa, MdsSigner, mds_entry};
use uuid::Uuid;

const LISTED: Uuid = Uuid::from_u128(0x11111111_2222_4333_8444_555555555555);
const REVOKED: Uuid = Uuid::from_u128(0x66666666_7777_4888_8999_aaaaaaaaaaaa);

#[test]
fn a_metadata_blob_verifies_only_with_its_root_and_unaltered() {
    let signer = MdsSigner::new().unwrap();
    let ca = AttestationCa::new(*LISTED.as_bytes()).unwrap();
    let blob = signer
        .blob(json!([
            mds_entry(LISTED, &[&ca], "FIDO_CERTIFIED_L2"),
            mds_entry(REVOKED, &[&ca], "REVOKED"),
        ]))
        .unwrap();
    let root = root_from_pem(&signer.root_pem).unwrap();
    let now = SystemTime::now();
    let metadata = Metadata::verify(&blob, &root, now).unwrap();
    assert_eq!(metadata.number, 7);
    let listed = metadata.model(LISTED).unwrap();
    assert_eq!(listed.status.as_deref(), Some("FIDO_CERTIFIED_L2"));
    assert!(!listed.refused);
    assert!(
        metadata.model(REVOKED).unwrap().refused,
        "the latest report counts"
    );
    assert_eq!(metadata.attestation_cas().len(), 1);

    // Another root: untrusted. The FIDO Alliance's own root does not sign test BLOBs either.
    let other = root_from_pem(&MdsSigner::new().unwrap().root_pem).unwrap();
    assert!(matches!(
        Metadata::verify(&blob, &other, now),
        Err(MdsError::Untrusted(_))
    ));
    let fido = root_from_pem(rp_server::mds::FIDO_MDS_ROOT).unwrap();
    assert!(matches!(
        Metadata::verify(&blob, &fido, now),
        Err(MdsError::Untrusted(_))
    ));

    // Any altered payload character: the signature no longer verifies.
    let (head, rest) = blob.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    let altered = format!("{head}.{}.{sig}", crate::harness::altered_at(payload, 20));
    assert!(Metadata::verify(&altered, &root, now).is_err());
    assert!(matches!(
        Metadata::verify("not a jws", &root, now),
        Err(MdsError::NotJws)
    ));
}

mod required {
    use std::sync::Arc;

    use rp_server::policy::{Policies, Policy};
    use serde_json::{Value, json};
    use testkit::authenticator::{Attestation, SoftAuthenticator};

    use super::*;
    use crate::harness::{TestApp, User};

    const UNLISTED: Uuid = Uuid::from_u128(0x99999999_8888_4777_8666_555555555555);

    struct Fixture {
        app: TestApp,
        listed: Arc<AttestationCa>,
        revoked: Arc<AttestationCa>,
    }

    async fn fixture() -> Fixture {
        let signer = MdsSigner::new().unwrap();
        let listed = Arc::new(AttestationCa::new(*LISTED.as_bytes()).unwrap());
        let revoked = Arc::new(AttestationCa::new(*REVOKED.as_bytes()).unwrap());
        let blob = signer
            .blob(json!([
                mds_entry(LISTED, &[&listed], "FIDO_CERTIFIED_L2"),
                mds_entry(REVOKED, &[&revoked], "ATTESTATION_KEY_COMPROMISE"),
            ]))
            .unwrap();
        let root = root_from_pem(&signer.root_pem).unwrap();
        let metadata = Arc::new(rp_server::mds::MetadataStore::fixed(
            Metadata::verify(&blob, &root, SystemTime::now()).unwrap(),
        ));
        let policy = Policy {
            name: "attested".into(),
            groups: vec![],
            aaguids: vec![],
            deny_aaguids: vec![],
            device_bound: false,
            enforce_on_sign_in: false,
            attestation: true,
        };
        let app = TestApp::spawn_with(move |c| {
            c.mds = Some(metadata);
            c.policies = Policies::new(vec![policy]);
        })
        .await;
        Fixture {
            app,
            listed,
            revoked,
        }
    }

    async fn register(
        app: &TestApp,
        name: &str,
        aaguid: Uuid,
        attestation: Attestation,
    ) -> (Value, testkit::rp::Response) {
        let mut authn = SoftAuthenticator::new();
        authn.aaguid = *aaguid.as_bytes();
        authn.attestation = attestation;
        app.try_register(&app.token(&User::new(name)), &mut authn)
            .await
    }

    /// A policy requiring attestation accepts a listed model's attested passkey, and
    /// refuses self attestation, none, a model the metadata does not list (its own CA),
    /// and a model whose latest status is a compromise.
    #[tokio::test]
    async fn a_required_attestation_must_chain_to_a_root_the_metadata_lists_for_the_model() {
        let f = fixture().await;
        let (options, done) =
            register(&f.app, "ok", LISTED, Attestation::Packed(f.listed.clone())).await;
        assert_eq!(options["publicKey"]["attestation"], "direct");
        let added = done.expect(201);
        // Named as the metadata names the model; kept with what was verified.
        assert_eq!(
            added["authenticatorName"],
            format!("Test authenticator {LISTED}")
        );
        // Pictured with the metadata's icon wherever passkeys are listed.
        let stats = f
            .app
            .get("/admin/v1/stats", Some(crate::harness::ADMIN_TOKEN))
            .await
            .expect(200);
        assert_eq!(
            stats["credentialsByAuthenticator"][0]["icon"],
            testkit::attestation::TEST_ICON
        );
        assert_eq!(
            stats["credentialsByAuthenticator"][0]["name"],
            format!("Test authenticator {LISTED}")
        );
        let id = added["id"].as_str().unwrap();
        let admin = f
            .app
            .get(
                &format!("/admin/v1/credentials/{id}"),
                Some(crate::harness::ADMIN_TOKEN),
            )
            .await
            .expect(200);
        assert_eq!(
            (
                admin["attested"].as_bool(),
                admin["metadataStatus"].as_str()
            ),
            (Some(true), Some("FIDO_CERTIFIED_L2"))
        );
        assert_eq!(admin["authenticatorIcon"], testkit::attestation::TEST_ICON);

        let unlisted_ca = Arc::new(AttestationCa::new(*UNLISTED.as_bytes()).unwrap());
        for (name, aaguid, attestation) in [
            ("self", LISTED, Attestation::SelfPacked),
            ("none", LISTED, Attestation::None),
            ("unlisted", UNLISTED, Attestation::Packed(unlisted_ca)),
            ("revoked", REVOKED, Attestation::Packed(f.revoked.clone())),
        ] {
            let (_, done) = register(&f.app, name, aaguid, attestation).await;
            done.expect_error(422, "POLICY_VIOLATION");
            assert_eq!(
                done.body["error"]["details"],
                json!({ "policy": "attested", "rule": "attestation" }),
                "{name}"
            );
        }
        let violations = f
            .app
            .audit_actions()
            .await
            .into_iter()
            .filter(|a| a == "policy.violation")
            .count();
        assert_eq!(violations, 4);
    }
}

/// `rp-server mds refresh` writes a downloaded BLOB only once it verified: under the
/// wrong root the file already there stays as it was.
#[tokio::test(flavor = "multi_thread")]
async fn mds_refresh_writes_only_a_verified_blob() {
    let signer = MdsSigner::new().unwrap();
    let ca = AttestationCa::new(*LISTED.as_bytes()).unwrap();
    let blob = signer
        .blob(json!([mds_entry(LISTED, &[&ca], "FIDO_CERTIFIED_L1")]))
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let served = blob.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::Router::new().route("/", axum::routing::get(move || async move { served })),
        )
        .await
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let out = dir.join("mds.jwt");
    let root = dir.join("root.pem");
    std::fs::write(&root, &signer.root_pem).unwrap();
    let wrong = dir.join("wrong.pem");
    std::fs::write(&wrong, MdsSigner::new().unwrap().root_pem).unwrap();
    let refresh = |root: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rp-server"))
            .args([
                "mds",
                "refresh",
                "--url",
                &url,
                "--out",
                out.to_str().unwrap(),
            ])
            .env_clear()
            .env("RP_FIDO_MDS_ROOT_CERT", root)
            .output()
            .unwrap()
    };
    std::fs::write(&out, "the previous BLOB").unwrap();
    let refused = tokio::task::block_in_place(|| refresh(&wrong));
    assert!(!refused.status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "the previous BLOB");
    let done = tokio::task::block_in_place(|| refresh(&root));
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), blob);
}

/// A passkey registered without a verified attestation cannot sign in once its user is
/// in a group whose policy requires attestation and is enforced at sign-in; one attested
/// under that policy can.
#[tokio::test]
async fn an_enforced_attestation_policy_refuses_unattested_passkeys_at_sign_in() {
    use std::sync::Arc;

    use rp_server::policy::{Policies, Policy};
    use testkit::authenticator::{Attestation, SoftAuthenticator};

    use crate::harness::{TestApp, User};

    let signer = MdsSigner::new().unwrap();
    let ca = Arc::new(AttestationCa::new(*LISTED.as_bytes()).unwrap());
    let blob = signer
        .blob(json!([mds_entry(LISTED, &[&ca], "FIDO_CERTIFIED_L1")]))
        .unwrap();
    let root = root_from_pem(&signer.root_pem).unwrap();
    let metadata = Arc::new(rp_server::mds::MetadataStore::fixed(
        Metadata::verify(&blob, &root, SystemTime::now()).unwrap(),
    ));
    let strict = Policy {
        name: "admins".into(),
        groups: vec!["admins".into()],
        aaguids: vec![],
        deny_aaguids: vec![],
        device_bound: false,
        enforce_on_sign_in: true,
        attestation: true,
    };
    let app = TestApp::spawn_with(move |c| {
        c.mds = Some(metadata);
        c.policies = Policies::new(vec![strict]);
    })
    .await;
    let user = User::new("ian");
    let token = |groups: &[&str]| {
        let mut claims = app.idp.access_claims(&user.sub, &user.username);
        claims["cognito:groups"] = json!(groups);
        app.idp.sign(&claims).unwrap()
    };
    let mut plain = SoftAuthenticator::new();
    app.try_register(&token(&[]), &mut plain)
        .await
        .1
        .expect(201);
    let mut key = SoftAuthenticator::new();
    key.aaguid = *LISTED.as_bytes();
    key.attestation = Attestation::Packed(ca);
    app.try_register(&token(&["admins"]), &mut key)
        .await
        .1
        .expect(201);

    let refused = app.sign_in(&mut plain).await;
    refused.expect_error(422, "POLICY_VIOLATION");
    assert_eq!(refused.body["error"]["details"]["rule"], "attestation");
    app.sign_in(&mut key).await.expect(200);
}

/// A changed metadata file is taken when it verifies, and ignored (the metadata in force
/// kept) when it does not.
#[test]
fn the_metadata_file_is_re_read_when_it_changes() {
    use rp_server::mds::MetadataStore;
    let signer = MdsSigner::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let path = dir.join("mds.jwt");
    let write = |text: &str, seconds: u64| {
        std::fs::write(&path, text).unwrap();
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_900_000_000 + seconds);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(at)
            .unwrap();
    };
    write(&signer.blob_numbered(1, json!([])).unwrap(), 0);
    let store = MetadataStore::load(&path, root_from_pem(&signer.root_pem).unwrap()).unwrap();
    assert_eq!(store.current().number, 1);
    assert_eq!(store.reload_if_changed(), Ok(false), "unchanged");
    write(&signer.blob_numbered(2, json!([])).unwrap(), 1);
    assert_eq!(store.reload_if_changed(), Ok(true));
    assert_eq!(store.current().number, 2);
    let other = MdsSigner::new().unwrap();
    write(&other.blob_numbered(3, json!([])).unwrap(), 2);
    assert!(store.reload_if_changed().is_err());
    assert_eq!(store.current().number, 2, "an untrusted BLOB is not taken");
}
