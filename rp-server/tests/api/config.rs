//! The layered configuration as an operator meets it: `rp-server config` and `serve` on a
//! config file with the environment on top.

use std::process::Command;

/// `rp-server <args>` with nothing from this process's environment but `vars`.
fn rp_server(args: &[&str], vars: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rp-server"))
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SERVICE_TOKEN: &str = "svc-0123456789abcdef0123456789abcdef";

fn config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("rp-server.toml");
    std::fs::write(
        &path,
        format!(
            r#"
database_url = "postgres://rp:db-password@127.0.0.1:1/rp"
rp_id = "example.com"
origins = ["https://example.com"]
cognito_issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool"
cognito_client_ids = ["client1", "client2"]
service_token = "{SERVICE_TOKEN}"
nonce_ttl_secs = 60
"#
        ),
    )
    .unwrap();
    path
}

#[test]
fn rp_server_config_prints_values_and_sources_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let file = config_file(&dir);
    let file = file.to_str().unwrap();
    let (ok, out, err) = rp_server(
        &["config"],
        &[("RP_CONFIG_FILE", file), ("RP_NONCE_TTL_SECS", "90")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("valid"), "{out}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("nonce_ttl_secs").contains("90")
            && line("nonce_ttl_secs").contains("environment RP_NONCE_TTL_SECS"),
        "{out}"
    );
    assert!(
        line("rp_id").contains("example.com") && line("rp_id").contains(&format!("file {file}")),
        "{out}"
    );
    assert!(line("ceremony_ttl_secs").contains("default"), "{out}");
    for secret in [SERVICE_TOKEN, "db-password"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }

    // The same command says what is wrong, naming the variable and the file key.
    let (ok, _, err) = rp_server(
        &["config", "--config", file],
        &[("RP_CEREMONY_TTL_SECS", "5")],
    );
    assert!(!ok);
    assert!(
        err.contains("RP_CEREMONY_TTL_SECS") && err.contains("ceremony_ttl_secs"),
        "{err}"
    );

    // `serve` refuses the same way before it touches the database.
    let (ok, _, err) = rp_server(
        &["serve"],
        &[
            ("RP_CONFIG_FILE", file),
            ("RP_ORIGINS", "https://evil.test"),
        ],
    );
    assert!(!ok);
    assert!(err.contains("RP_ORIGINS"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_help_documents_every_setting() {
    let (ok, out, _) = rp_server(&["serve", "--help"], &[]);
    assert!(ok);
    for key in rp_server::config::settings::KEYS {
        let var = rp_server::config::settings::env_var(key.name);
        assert!(
            out.contains(&format!("{var} / {}", key.name)),
            "{var} missing from --help"
        );
    }
}

/// `attestation = "required"` needs the FIDO metadata; the BLOB is verified at start
/// against the FIDO Alliance's root or `RP_FIDO_MDS_ROOT_CERT`, and a tampered BLOB, one
/// signed under another root, or a root without a BLOB stops the start with the reason.
#[test]
fn attestation_policies_need_verified_metadata() {
    use testkit::attestation::{AttestationCa, MdsSigner, mds_entry};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let file = config_file(&dir);
    let signer = MdsSigner::new().unwrap();
    let ca = AttestationCa::new([7; 16]).unwrap();
    let blob = signer
        .blob(serde_json::json!([mds_entry(
            uuid::Uuid::from_bytes([7; 16]),
            &[&ca],
            "FIDO_CERTIFIED_L1"
        )]))
        .unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let blob_path = write("mds.jwt", &blob);
    let root_path = write("root.pem", &signer.root_pem);
    let other_root = write("other.pem", &MdsSigner::new().unwrap().root_pem);
    let tampered = write("tampered.jwt", &blob.replacen('.', ".e", 1));
    let policy = r#"[{"name":"keys","attestation":"required"}]"#;
    let run = |vars: &[(&str, &str)]| {
        let mut all = vec![
            ("RP_CONFIG_FILE", file.to_str().unwrap()),
            ("RP_POLICY", policy),
        ];
        all.extend_from_slice(vars);
        rp_server(&["config"], &all)
    };
    let (ok, _, err) = run(&[]);
    assert!(!ok && err.contains("RP_FIDO_MDS_FILE"), "{err}");
    let (ok, out, err) = run(&[
        ("RP_FIDO_MDS_FILE", &blob_path),
        ("RP_FIDO_MDS_ROOT_CERT", &root_path),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("# valid"), "{out}");
    for (vars, want) in [
        (
            vec![("RP_FIDO_MDS_FILE", blob_path.as_str())],
            "trusted root",
        ),
        (
            vec![
                ("RP_FIDO_MDS_FILE", blob_path.as_str()),
                ("RP_FIDO_MDS_ROOT_CERT", other_root.as_str()),
            ],
            "trusted root",
        ),
        (
            vec![
                ("RP_FIDO_MDS_FILE", tampered.as_str()),
                ("RP_FIDO_MDS_ROOT_CERT", root_path.as_str()),
            ],
            "RP_FIDO_MDS_FILE",
        ),
        (
            vec![("RP_FIDO_MDS_ROOT_CERT", root_path.as_str())],
            "without RP_FIDO_MDS_FILE",
        ),
    ] {
        let (ok, _, err) = run(&vars);
        assert!(!ok && err.contains(want), "{vars:?}: {err}");
    }
}
