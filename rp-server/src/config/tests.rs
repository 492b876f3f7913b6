#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::BTreeMap;

use secrecy::ExposeSecret as _;

use super::*;

/// The configuration the environment `vars` (`NAME=value` each) gives, with no file.
fn parse(vars: &[&str]) -> Result<Config, String> {
    let env: BTreeMap<String, String> = vars
        .iter()
        .filter_map(|v| v.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let layered = Layered::load(None, &env).map_err(|e| e.to_string())?;
    Config::from_settings(&layered.settings).map_err(|e| e.to_string())
}

const BASE: &[&str] = &[
    "DATABASE_URL=postgres://localhost/rp",
    "RP_ID=example.com",
    "RP_ORIGINS=https://example.com,https://app.example.com:8443,android:apk-key-hash:abc_-1",
    "RP_COGNITO_ISSUER=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool/",
    "RP_COGNITO_CLIENT_IDS=client1, client2",
    "RP_SERVICE_TOKEN=0123456789abcdef0123456789abcdef",
];

/// BASE with the variables in `extra` replacing (or adding to) its own.
fn with(extra: &[&str]) -> Result<Config, String> {
    let flag = |a: &str| a.split('=').next().unwrap_or_default().to_owned();
    let mut v: Vec<&str> = BASE
        .iter()
        .copied()
        .filter(|b| !extra.iter().any(|e| flag(e) == flag(b)))
        .collect();
    v.extend_from_slice(extra);
    parse(&v)
}

#[test]
fn a_missing_required_setting_is_named() {
    let without: Vec<&str> = BASE
        .iter()
        .copied()
        .filter(|a| !a.starts_with("RP_ID="))
        .collect();
    let err = parse(&without).err().unwrap_or_default();
    assert!(err.contains("RP_ID"), "{err}");
}

#[test]
fn email_settings_default_to_verified_sign_up() {
    let c = with(&[
        "RP_EMAIL_TRANSPORT=smtp",
        "RP_EMAIL_FROM=Example <no-reply@example.com>",
        "RP_SMTP_URL=smtps://user:pass@email-smtp.eu-west-1.amazonaws.com:465",
    ])
    .unwrap();
    assert!(c.email.is_some() && c.signup_verify_email);
    assert_eq!(c.email_code_ttl, Duration::from_secs(600));
    let c = with(&[
        "RP_EMAIL_TRANSPORT=smtp",
        "RP_EMAIL_FROM=a@b.c",
        "RP_SMTP_URL=smtp://mail.example.com:587?tls=required",
        "RP_SIGNUP_VERIFY_EMAIL=false",
    ])
    .unwrap();
    assert!(!c.signup_verify_email);
    let c = with(&[
        "RP_EMAIL_TRANSPORT=smtp",
        "RP_EMAIL_FROM=a@b.c",
        "RP_SMTP_URL=smtp://127.0.0.1:2525",
    ])
    .unwrap();
    assert!(c.email.is_some(), "plain SMTP to a loopback host");
    let c = with(&[]).unwrap();
    assert!(c.email.is_none() && !c.signup_verify_email);
}

#[test]
fn native_apps_are_parsed_and_their_origins_derived() {
    let fingerprint = (0..32)
        .map(|i| format!("{i:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let c = with(&[
        "RP_ORIGINS=https://example.com",
        "RP_APPLE_APP_IDS=ABCDE12345.com.example.app",
        &format!("RP_ANDROID_APPS=com.example.app:{fingerprint}"),
    ])
    .unwrap();
    assert_eq!(c.apple_app_ids, ["ABCDE12345.com.example.app"]);
    let app = &c.android_apps[0];
    assert_eq!(app.package_name, "com.example.app");
    assert_eq!(app.fingerprint_hex(), fingerprint);
    assert_eq!(
        app.origin(),
        "android:apk-key-hash:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    );
    assert!(c.origins.contains(&Origin::Android(app.origin())));

    // iOS apps' ceremonies carry https://<RP_ID>, a web origin that only RP_ORIGINS
    // trusts: listing an app does not add it, and an app list without it is refused.
    let ios = Origin::Web(Url::parse("https://example.com").unwrap());
    let origins = "RP_ORIGINS=https://app.example.com";
    let apple = with(&[origins, "RP_APPLE_APP_IDS=ABCDE12345.com.example.app"]);
    let message = apple.unwrap_err().to_string();
    assert!(
        message.contains("RP_APPLE_APP_IDS") && message.contains("https://example.com"),
        "{message}"
    );
    assert!(!with(&[origins]).unwrap().origins.contains(&ios));
}

#[test]
fn related_origins_count_registrable_labels() {
    assert_eq!(
        registrable_label("shop.example.co.uk").as_deref(),
        Some("example")
    );
    assert_eq!(registrable_label("example.com").as_deref(), Some("example"));
    assert_eq!(
        registrable_label("www.example-shop.de").as_deref(),
        Some("example-shop")
    );
    // Five labels, one of them under three suffixes: within the limit.
    let c = with(&[
        "RP_RELATED_ORIGINS=https://example.co.uk,https://shop.example.de,https://a.com,https://b.com,https://c.com,https://d.com",
    ]);
    assert!(c.is_ok(), "{c:?}");
    assert_eq!(c.unwrap().related_origins.len(), 6);
}

#[test]
fn valid_configuration_gets_defaults() {
    let c = with(&[]).unwrap();
    assert_eq!(c.rp_name, "example.com");
    assert_eq!(c.origins.len(), 3);
    assert_eq!(c.cognito_client_ids, ["client1", "client2"]);
    assert_eq!(
        c.cognito_jwks_url.as_str(),
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool/.well-known/jwks.json"
    );
    assert_eq!(c.ceremony_ttl, Duration::from_secs(180));
    assert_eq!(c.nonce_ttl, Duration::from_secs(120));
    assert_eq!(c.listen_addr.to_string(), "127.0.0.1:8080");
    assert!(c.admin_token.is_none());
    assert!(c.auto_migrate);
}

#[test]
fn bad_settings_are_named() {
    let cases: &[(&[&str], &str)] = &[
        (&["RP_ID=https://example.com"], "RP_ID"),
        (&["RP_ORIGINS=https://evil.com"], "RP_ORIGINS"),
        (&["RP_ORIGINS=http://app.example.com"], "RP_ORIGINS"),
        (&["RP_ORIGINS=https://notexample.com"], "RP_ORIGINS"),
        (&["RP_ORIGINS=ftp://example.com"], "RP_ORIGINS"),
        (&["RP_ORIGINS=https://example.com/path"], "RP_ORIGINS"),
        (&["RP_ORIGINS=android:apk-key-hash:"], "RP_ORIGINS"),
        (&["RP_COGNITO_ISSUER=not a url"], "RP_COGNITO_ISSUER"),
        (
            &["RP_COGNITO_ISSUER=http://cognito.example.com/pool"],
            "RP_COGNITO_ISSUER",
        ),
        (
            &["RP_COGNITO_JWKS_URL=http://10.0.0.5/jwks.json"],
            "RP_COGNITO_JWKS_URL",
        ),
        (
            &["RP_INTERNAL_LISTEN_ADDR=nonsense"],
            "RP_INTERNAL_LISTEN_ADDR",
        ),
        (&["RP_COGNITO_CLIENT_IDS= ,"], "RP_COGNITO_CLIENT_IDS"),
        (&["RP_SERVICE_TOKEN=short"], "RP_SERVICE_TOKEN"),
        (
            &["RP_ADMIN_TOKEN=0123456789abcdef0123456789abcdef"],
            "RP_ADMIN_TOKEN",
        ),
        (&["RP_CEREMONY_TTL_SECS=5"], "RP_CEREMONY_TTL_SECS"),
        (&["RP_NONCE_TTL_SECS=100000"], "RP_NONCE_TTL_SECS"),
        (&["RP_SIGNUP_ENABLED=true"], "RP_COGNITO_USER_POOL_ID"),
        (
            &["RP_SIGNUP_ENABLED=true", "RP_COGNITO_USER_POOL_ID=nopool"],
            "RP_COGNITO_USER_POOL_ID",
        ),
        (&["RP_COGNITO_POOL_SHAPE=email"], "RP_COGNITO_POOL_SHAPE"),
        (&["RP_SMTP_URL=smtp://127.0.0.1:25"], "RP_EMAIL_TRANSPORT"),
        (
            &["RP_EMAIL_TRANSPORT=smtp", "RP_EMAIL_FROM=a@b.c"],
            "RP_SMTP_URL",
        ),
        (&["RP_EMAIL_TRANSPORT=ses"], "RP_EMAIL_FROM"),
        (
            &["RP_EMAIL_TRANSPORT=ses", "RP_EMAIL_FROM=not an address"],
            "RP_EMAIL_FROM",
        ),
        (
            &[
                "RP_EMAIL_TRANSPORT=smtp",
                "RP_EMAIL_FROM=a@b.c",
                "RP_SMTP_URL=smtp://mail.example.com:25",
            ],
            "RP_SMTP_URL",
        ),
        (
            &[
                "RP_EMAIL_TRANSPORT=smtp",
                "RP_EMAIL_FROM=a@b.c",
                "RP_SMTP_URL=smtp://10.0.0.5:25",
            ],
            "RP_SMTP_URL",
        ),
        (&["RP_SIGNUP_VERIFY_EMAIL=true"], "RP_SIGNUP_VERIFY_EMAIL"),
        (&["RP_EMAIL_SIGNIN=any"], "RP_EMAIL_SIGNIN"),
        (
            &[
                "RP_EMAIL_SIGNIN=no_passkey",
                "RP_EMAIL_TRANSPORT=ses",
                "RP_EMAIL_FROM=a@b.c",
            ],
            "RP_EMAIL_SIGNIN",
        ),
        (&["RP_EMAIL_SIGNIN=sometimes"], "RP_EMAIL_SIGNIN"),
        (&["RP_EMAIL_NOTIFY=true"], "RP_EMAIL_NOTIFY"),
        (
            &["RP_RELATED_ORIGINS=http://example.org"],
            "RP_RELATED_ORIGINS",
        ),
        (&["RP_HINTS=phone"], "RP_HINTS"),
        (&["RP_APPLE_APP_IDS=com.example.app"], "RP_APPLE_APP_IDS"),
        (
            &["RP_APPLE_APP_IDS=abcde12345.com.example.app"],
            "RP_APPLE_APP_IDS",
        ),
        (&["RP_ANDROID_APPS=com.example.app"], "RP_ANDROID_APPS"),
        (
            &["RP_ANDROID_APPS=com.example.app:AB:CD"],
            "RP_ANDROID_APPS",
        ),
        (&["RP_ANDROID_APPS=example:AB:CD"], "RP_ANDROID_APPS"),
        (
            &["RP_RELATED_ORIGINS=https://example.org/login"],
            "RP_RELATED_ORIGINS",
        ),
        (
            &[
                "RP_RELATED_ORIGINS=https://a.com,https://b.com,https://c.com,https://d.com,https://e.com,https://f.com",
            ],
            "RP_RELATED_ORIGINS",
        ),
        (
            &["RP_EMAIL_LINK_URL=http://app.example.com/email"],
            "RP_EMAIL_LINK_URL",
        ),
        (
            &[
                "RP_EMAIL_TRANSPORT=ses",
                "RP_EMAIL_FROM=a@b.c",
                "RP_EMAIL_CODE_TTL_SECS=5",
            ],
            "RP_EMAIL_CODE_TTL_SECS",
        ),
    ];
    for (extra, variable) in cases {
        let err = with(extra).expect_err(&format!("{extra:?} should be rejected"));
        assert!(
            err.contains(variable),
            "{extra:?}: `{err}` should name {variable}"
        );
    }
}

#[test]
fn secrets_do_not_print() {
    let c = with(&["RP_ADMIN_TOKEN=fedcba9876543210fedcba9876543210"]).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("0123456789abcdef0123456789abcdef"));
    assert!(!shown.contains("fedcba9876543210fedcba9876543210"));
    assert!(!shown.contains("postgres://localhost/rp"));
}

fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A config file in a fresh temporary directory, removed with the returned guard.
fn file(contents: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rp-server.toml");
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}

const FILE: &str = r#"
database_url = "postgres://localhost/rp"
rp_id = "example.com"
rp_name = "Example (file)"
origins = ["https://example.com", "https://app.example.com"]
cognito_issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool"
cognito_client_ids = ["client1"]
service_token = "0123456789abcdef0123456789abcdef"
ceremony_ttl_secs = 120
hints = ["security-key"]
"#;

#[test]
fn the_file_alone_configures_and_the_environment_wins() {
    let (_dir, path) = file(FILE);
    let layered = Layered::load(Some(&path), &BTreeMap::new()).unwrap();
    let c = Config::from_settings(&layered.settings).unwrap();
    assert_eq!(c.rp_name, "Example (file)");
    assert_eq!(c.origins.len(), 2);
    assert_eq!(c.ceremony_ttl, Duration::from_secs(120));
    assert_eq!(c.hints, [crate::model::Hint::SecurityKey]);
    assert_eq!(layered.source("rp_name"), Source::File(path.clone()));
    assert_eq!(layered.source("nonce_ttl_secs"), Source::Default);

    // RP_CONFIG_FILE names the file; a variable replaces the file's value (lists whole).
    let vars = env(&[
        ("RP_CONFIG_FILE", path.to_str().unwrap()),
        ("RP_NAME", "Example (env)"),
        ("RP_ORIGINS", "https://login.example.com"),
        ("RP_CEREMONY_TTL_SECS", "60"),
    ]);
    let layered = Layered::load(None, &vars).unwrap();
    let c = Config::from_settings(&layered.settings).unwrap();
    assert_eq!(c.rp_name, "Example (env)");
    assert_eq!(c.origins.len(), 1);
    assert_eq!(c.ceremony_ttl, Duration::from_secs(60));
    assert_eq!(c.cognito_client_ids, ["client1"], "from the file");
    assert_eq!(
        layered.source("rp_name"),
        Source::Environment("RP_NAME".into())
    );
    assert_eq!(layered.source("rp_id"), Source::File(path));
}

#[test]
fn file_errors_name_the_setting_and_the_file() {
    let (_bad_type, bad_type) = file(&format!("{FILE}nonce_ttl_secs = \"soon\"\n"));
    let err = Layered::load(Some(&bad_type), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("RP_NONCE_TTL_SECS")
            && err.contains("nonce_ttl_secs")
            && err.contains("rp-server.toml"),
        "{err}"
    );
    let (_unknown, unknown) = file(&format!("{FILE}ceremony_ttl = 5\n"));
    let err = Layered::load(Some(&unknown), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("ceremony_ttl"), "{err}");
    let (_broken, broken) = file("rp_id = \n");
    let err = Layered::load(Some(&broken), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("RP_CONFIG_FILE") && err.contains("TOML"),
        "{err}"
    );
    let missing = std::path::Path::new("/nonexistent/rp-server.toml");
    let err = Layered::load(Some(missing), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("RP_CONFIG_FILE") && err.contains("cannot read"),
        "{err}"
    );
    // A validation error names the file key as well as the variable.
    let (_bad_value, bad_value) =
        file(&FILE.replace("ceremony_ttl_secs = 120", "ceremony_ttl_secs = 5"));
    let layered = Layered::load(Some(&bad_value), &BTreeMap::new()).unwrap();
    let err = Config::from_settings(&layered.settings)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("RP_CEREMONY_TTL_SECS") && err.contains("`ceremony_ttl_secs`"),
        "{err}"
    );
    // A bad number in the environment is named too.
    let err = parse(&[BASE, &["RP_NONCE_TTL_SECS=two minutes"]].concat()).unwrap_err();
    assert!(
        err.contains("RP_NONCE_TTL_SECS") && err.contains("environment"),
        "{err}"
    );
}

#[test]
fn tokens_of_digits_stay_text() {
    // figment's own environment provider would read this as a number.
    let digits = "12345678901234567890123456789012345678";
    let c = with(&[&format!("RP_SERVICE_TOKEN={digits}")]).unwrap();
    assert_eq!(c.service_token.expose_secret(), digits);
}

#[test]
fn named_admin_tokens() {
    use sha2::Digest as _;
    let hash = |t: &str| {
        sha2::Sha256::digest(t.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let alice = format!("RP_ADMIN_TOKENS=alice={},ops-bot={}", hash("a"), hash("b"));
    let c = with(&[&alice, "RP_ADMIN_TOKEN=fedcba9876543210fedcba9876543210"]).unwrap();
    let names: Vec<&str> = c.admin_tokens.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["alice", "ops-bot"]);
    assert!(
        !format!("{c:?}").contains(&hash("a")),
        "hashes stay out of Debug"
    );
    for (bad, why) in [
        ("RP_ADMIN_TOKENS=alice".to_owned(), "name="),
        (
            format!("RP_ADMIN_TOKENS=alice={}", &hash("a")[..60]),
            "64 hex",
        ),
        (format!("RP_ADMIN_TOKENS=al ice={}", hash("a")), "a name"),
        (
            format!("RP_ADMIN_TOKENS=a={},a={}", hash("a"), hash("b")),
            "twice",
        ),
        (format!("RP_ADMIN_TOKENS=admin={}", hash("b")), "twice"),
        (
            format!(
                "RP_ADMIN_TOKENS=svc={}",
                hash("0123456789abcdef0123456789abcdef")
            ),
            "service token",
        ),
    ] {
        let err = with(&[&bad, "RP_ADMIN_TOKEN=fedcba9876543210fedcba9876543210"]).unwrap_err();
        assert!(
            err.contains("RP_ADMIN_TOKENS") && err.contains(why),
            "{bad}: {err}"
        );
    }
}

#[test]
fn describe_shows_sources_and_never_secrets() {
    let (_dir, path) = file(FILE);
    let hash = "0f".repeat(32);
    let named = format!("alice={hash}");
    let vars = env(&[
        ("RP_CONFIG_FILE", path.to_str().unwrap()),
        ("RP_ADMIN_TOKEN", "fedcba9876543210fedcba9876543210"),
        ("RP_ADMIN_TOKENS", &named),
    ]);
    let shown = Layered::load(None, &vars).unwrap().describe();
    assert!(shown.contains("alice="), "{shown}");
    for secret in [
        hash.as_str(),
        "fedcba9876543210fedcba9876543210",
        "0123456789abcdef0123456789abcdef",
        "postgres://localhost/rp",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("admin_token").contains("environment RP_ADMIN_TOKEN"),
        "{shown}"
    );
    assert!(line("admin_token").contains("redacted"), "{shown}");
    assert!(
        line("rp_name").contains("Example (file)") && line("rp_name").contains("file "),
        "{shown}"
    );
    assert!(line("nonce_ttl_secs").contains("default"), "{shown}");
}

#[test]
fn the_openid_provider_from_the_file_or_the_environment() {
    let key = crate::oidc::keys::generate_p256_pem().unwrap();
    let hash = "a".repeat(64);
    let toml = format!(
        "{FILE}oidc_issuer = \"https://id.example.com\"\noidc_signing_key = '''\n{key}'''\n\n[[oidc_clients]]\nclient_id = \"pool\"\nsecret_sha256 = \"{hash}\"\nredirect_uris = [\"https://auth.example.com/oauth2/idpresponse\"]\ncognito_provider_name = \"Passkeys\"\n\n[[oidc_clients]]\nclient_id = \"spa\"\npublic = true\nredirect_uris = [\"http://localhost:3000/cb\"]\nscopes = [\"openid\"]\n"
    );
    let (_dir, path) = file(&toml);
    let layered = Layered::load(Some(&path), &BTreeMap::new()).unwrap();
    let c = Config::from_settings(&layered.settings).unwrap();
    let oidc = c.oidc.as_ref().unwrap();
    assert_eq!(oidc.issuer, "https://id.example.com");
    assert_eq!(oidc.clients.len(), 2);
    assert_eq!(oidc.clients[0].scopes, ["openid", "email", "profile"]);
    assert_eq!(
        oidc.clients[0].cognito_provider_name.as_deref(),
        Some("Passkeys")
    );
    assert!(oidc.clients[1].public && oidc.clients[1].secret_sha256.is_none());
    // The page runs ceremonies on the issuer's origin.
    assert!(
        c.origins
            .iter()
            .any(|o| matches!(o, Origin::Web(u) if u.as_str() == "https://id.example.com/"))
    );
    // `rp-server config` shows neither the key nor a client's hash.
    let described = layered.describe();
    assert!(
        !described.contains("BEGIN") && !described.contains(&hash),
        "{described}"
    );

    // RP_OIDC_CLIENTS: the same as a JSON array.
    let vars = env(&[
        ("RP_CONFIG_FILE", path.to_str().unwrap()),
        (
            "RP_OIDC_CLIENTS",
            r#"[{"client_id": "only", "public": true, "redirect_uris": ["https://app.example.com/cb"]}]"#,
        ),
    ]);
    let c = Config::from_settings(&Layered::load(None, &vars).unwrap().settings).unwrap();
    assert_eq!(c.oidc.unwrap().clients[0].client_id, "only");

    // A secret given itself (an orchestrator's secret store) is kept as its hash, never shown.
    let vars = env(&[
        ("RP_CONFIG_FILE", path.to_str().unwrap()),
        (
            "RP_OIDC_CLIENTS",
            r#"[{"client_id": "pool", "secret": "0123456789abcdef0123456789abcdef-s", "redirect_uris": ["https://auth.example.com/cb"]}]"#,
        ),
    ]);
    let layered = Layered::load(None, &vars).unwrap();
    let c = Config::from_settings(&layered.settings).unwrap();
    assert_eq!(
        c.oidc.unwrap().clients[0].secret_sha256,
        Some(crate::oidc::sha256(b"0123456789abcdef0123456789abcdef-s"))
    );
    assert!(
        !layered
            .describe()
            .contains("0123456789abcdef0123456789abcdef-s")
    );
    assert!(!format!("{:?}", layered.settings).contains("0123456789abcdef0123456789abcdef-s"));

    let issuer = "RP_OIDC_ISSUER=https://id.example.com";
    let signing = format!("RP_OIDC_SIGNING_KEY={key}");
    let client = r#"RP_OIDC_CLIENTS=[{"client_id":"c","public":true,"redirect_uris":["https://app.example.com/cb"]}]"#;
    assert!(with(&[issuer, &signing, client]).is_ok());
    for (vars, want) in [
        (vec![&signing as &str, client], "RP_OIDC_ISSUER"),
        (
            vec!["RP_OIDC_ISSUER=http://id.example.com", &signing, client],
            "https",
        ),
        (
            vec!["RP_OIDC_ISSUER=https://id.other.com", &signing, client],
            "RP_ID",
        ),
        (
            vec![
                "RP_OIDC_ISSUER=https://id.example.com/path",
                &signing,
                client,
            ],
            "no path",
        ),
        (vec![issuer, client], "RP_OIDC_SIGNING_KEY"),
        (
            vec![issuer, "RP_OIDC_SIGNING_KEY=nope", client],
            "RP_OIDC_SIGNING_KEY",
        ),
        (vec![issuer, &signing], "RP_OIDC_CLIENTS"),
        (
            vec![issuer, &signing, "RP_OIDC_CLIENTS=not json"],
            "RP_OIDC_CLIENTS",
        ),
        (
            vec![
                issuer,
                &signing,
                r#"RP_OIDC_CLIENTS=[{"client_id":"c","redirect_uris":["https://a.example.com/cb"]}]"#,
            ],
            "secret_sha256",
        ),
        (
            vec![
                issuer,
                &signing,
                r#"RP_OIDC_CLIENTS=[{"client_id":"c","public":true,"redirect_uris":["http://a.example.com/cb"]}]"#,
            ],
            "https",
        ),
        (
            vec![
                issuer,
                &signing,
                r#"RP_OIDC_CLIENTS=[{"client_id":"c","public":true,"redirect_uris":["https://a.example.com/cb"],"scopes":["openid","phone"]}]"#,
            ],
            "phone",
        ),
        (
            vec![
                issuer,
                &signing,
                r#"RP_OIDC_CLIENTS=[{"client_id":"c","public":true,"redirect_uris":["https://a.example.com/cb"],"colour":"red"}]"#,
            ],
            "colour",
        ),
        (
            vec![
                issuer,
                &signing,
                r#"RP_OIDC_CLIENTS=[{"client_id":"c","public":true,"redirect_uris":["https://a.example.com/cb"]},{"client_id":"c","public":true,"redirect_uris":["https://a.example.com/cb"]}]"#,
            ],
            "twice",
        ),
    ] {
        let err = with(&vars).err().unwrap_or_default();
        assert!(err.contains(want), "{vars:?}: {err}");
    }
}

#[test]
fn passkey_policies_from_the_file_and_their_refusals() {
    let toml = format!(
        "{FILE}\n[[policy]]\nname = \"staff\"\ngroups = [\"admins\", \"finance\"]\naaguids = [\"cb69481e-8ff7-4039-93ec-0a2729a154a8\"]\ndevice_bound = true\nuser_verification = \"required\"\nenforce_on_sign_in = true\n\n[[policy]]\nname = \"everyone\"\ndeny_aaguids = [\"0bad0bad-0bad-4bad-8bad-0bad0bad0bad\"]\n"
    );
    let (_dir, path) = file(&toml);
    let c = Config::from_settings(
        &Layered::load(Some(&path), &BTreeMap::new())
            .unwrap()
            .settings,
    )
    .unwrap();
    let all = c.policies.all();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].groups, ["admins", "finance"]);
    assert!(all[0].device_bound && all[0].enforce_on_sign_in);
    assert!(c.policies.enforced_on_sign_in());
    assert_eq!(
        c.policies.for_groups(&[]).map(|p| p.name.as_str()),
        Some("everyone")
    );

    for (policy, want) in [
        (r#"[{"name":"a"},{"name":"a","groups":["x"]}]"#, "twice"),
        (r#"[{"name":"a"},{"name":"b"}]"#, "second default"),
        (r#"[{"name":"bad name!"}]"#, "policy name"),
        (r#"[{"name":"a","aaguids":["not-a-uuid"]}]"#, "AAGUID"),
        (
            r#"[{"name":"a","attestation":"required"}]"#,
            "RP_FIDO_MDS_FILE",
        ),
        (r#"[{"name":"a","attestation":"sometimes"}]"#, "sometimes"),
        (
            r#"[{"name":"a","user_verification":"preferred"}]"#,
            "requires user verification",
        ),
        (r#"[{"name":"a","colour":"red"}]"#, "colour"),
    ] {
        let var = format!("RP_POLICY={policy}");
        let err = with(&[&var]).err().unwrap_or_default();
        assert!(
            err.contains(want) && err.contains("RP_POLICY"),
            "{policy}: {err}"
        );
    }
}

#[test]
fn passkey_endpoint_urls_are_https_pages() {
    let c = with(&[
        "RP_PASSKEY_ENROLL_URL=https://app.example.com/passkeys/new",
        "RP_PASSKEY_MANAGE_URL=http://localhost:3000/account",
    ])
    .unwrap();
    assert_eq!(
        c.passkey_enroll_url.map(String::from).as_deref(),
        Some("https://app.example.com/passkeys/new")
    );
    assert!(c.passkey_manage_url.is_some());
    for (var, want) in [
        ("RP_PASSKEY_ENROLL_URL=http://app.example.com/new", "https"),
        ("RP_PASSKEY_MANAGE_URL=not a url", "not a URL"),
        (
            "RP_PASSKEY_MANAGE_URL=https://app.example.com/a#b",
            "fragment",
        ),
    ] {
        let err = with(&[var]).err().unwrap_or_default();
        assert!(
            err.contains(want) && err.contains(var.split('=').next().unwrap()),
            "{var}: {err}"
        );
    }
}

/// Two `[[site]]` tables beneath a shared top level.
const SITES: &str = r#"
database_url = "postgres://localhost/rp"
service_token = "0123456789abcdef0123456789abcdef"
cognito_client_ids = ["shared-client"]
ceremony_ttl_secs = 120
admin_tokens = ["ops=0000000000000000000000000000000000000000000000000000000000000001"]

[[site]]
id = "default"
rp_id = "example.com"
origins = ["https://app.example.com"]
cognito_issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_A"

[[site]]
id = "brand-b"
rp_id = "brand-b.com"
rp_name = "Brand B"
origins = ["https://www.brand-b.com"]
hosts = ["passkeys.brand-b.com"]
cognito_issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_B"
cognito_client_ids = ["b-client"]
ceremony_ttl_secs = 300
admin_tokens = ["b-desk=0000000000000000000000000000000000000000000000000000000000000002"]
admin_group = "b-admins"

[[site.policy]]
name = "keys"
device_bound = true
"#;

fn sites_of(contents: &str, vars: &[(&str, &str)]) -> Result<Vec<Config>, String> {
    let (_dir, path) = file(contents);
    let layered = Layered::load(Some(&path), &env(vars)).map_err(|e| e.to_string())?;
    sites::configs(&layered).map_err(|e| e.to_string())
}

#[test]
fn sites_inherit_the_top_level_and_override_it() {
    let sites = sites_of(SITES, &[("RP_CEREMONY_TTL_SECS", "90")]).unwrap();
    assert_eq!(sites.len(), 2);
    let (a, b) = (&sites[0], &sites[1]);
    assert_eq!((a.site.as_str(), b.site.as_str()), ("default", "brand-b"));
    // The environment is the top level: it wins over the file's top level, a site's own
    // key wins over both.
    assert_eq!(a.ceremony_ttl, Duration::from_secs(90));
    assert_eq!(b.ceremony_ttl, Duration::from_secs(300));
    assert_eq!(a.cognito_client_ids, ["shared-client"]);
    assert_eq!(b.cognito_client_ids, ["b-client"]);
    assert_eq!(b.rp_name, "Brand B");
    assert_eq!(a.rp_name, "example.com");
    assert_eq!(b.policies.all().len(), 1);
    assert_eq!(b.policies.all()[0].name, "keys");
    assert!(a.policies.all().is_empty());
    assert_eq!(
        sites::hosts(b),
        ["brand-b.com", "passkeys.brand-b.com", "www.brand-b.com"]
    );
    assert_eq!(sites::pool_id(&b.cognito_issuer), "eu-west-1_B");
    // The top level's admin tokens are every site's; a site's own come beside them.
    let names = |c: &Config| {
        c.admin_tokens
            .iter()
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(a), ["ops"]);
    assert_eq!(names(b), ["ops", "b-desk"]);
    // Each pool has its own groups and clients: the console's group and client are per site.
    assert_eq!(a.admin_group.as_deref(), Some(DEFAULT_ADMIN_GROUP));
    assert_eq!(b.admin_group.as_deref(), Some("b-admins"));
    assert_eq!(
        (a.console_client_id.as_str(), b.console_client_id.as_str()),
        ("shared-client", "b-client")
    );
    // Process-wide settings are the same everywhere.
    assert_eq!(
        a.service_token.expose_secret(),
        b.service_token.expose_secret()
    );

    // RP_SITE: the same tables as a JSON array, over the environment's top level (what
    // the template passes).
    let mut vars: Vec<(&str, &str)> = BASE.iter().filter_map(|v| v.split_once('=')).collect();
    vars.push((
        "RP_SITE",
        r#"[{"id":"default"},{"id":"b","rp_id":"b.example","origins":["https://b.example"],
            "cognito_issuer":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_B"}]"#,
    ));
    let from_env = sites::configs(&Layered::load(None, &env(&vars)).unwrap()).unwrap();
    assert_eq!(from_env.len(), 2);
    assert_eq!(
        (from_env[0].rp_id.as_str(), from_env[1].rp_id.as_str()),
        ("example.com", "b.example")
    );
    assert_eq!(
        from_env[1].cognito_client_ids,
        ["client1", "client2"],
        "inherited"
    );

    // Without tables: today's one site, `default`.
    let one = sites_of(FILE, &[]).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].site.as_str(), "default");
}

#[test]
fn sites_that_cannot_be_told_apart_are_refused() {
    let cases: &[(&str, &str, &str)] = &[
        ("no id", "id = \"brand-b\"\n", ""),
        ("bad id", "id = \"brand-b\"", "id = \"Brand B\""),
        ("same id", "id = \"brand-b\"", "id = \"default\""),
        (
            "process-wide",
            "rp_name = \"Brand B\"",
            "rp_name = \"Brand B\"\nlisten_addr = \"0.0.0.0:9000\"",
        ),
        (
            "same host",
            "hosts = [\"passkeys.brand-b.com\"]",
            "hosts = [\"app.example.com\"]",
        ),
        ("same pool", "eu-west-1_B\"", "eu-west-1_A\""),
        (
            "unknown key",
            "rp_name = \"Brand B\"",
            "rp_name = \"Brand B\"\nrp_nmae = \"typo\"",
        ),
        (
            "invalid site setting",
            "ceremony_ttl_secs = 300",
            "ceremony_ttl_secs = 5",
        ),
    ];
    for (what, from, to) in cases {
        assert!(SITES.contains(from), "{what}");
        let err = sites_of(&SITES.replacen(from, to, 1), &[]).unwrap_err();
        assert!(err.contains("RP_SITE"), "{what}: {err}");
        let expected = match *what {
            "no id" => "has no `id`",
            "bad id" => "must be 1 to 32",
            "same id" => "two [[site]] tables have the id default",
            "process-wide" => "`listen_addr` is process-wide",
            "same host" => "both answer on the host app.example.com",
            "same pool" => "the same user pool (eu-west-1_A)",
            "unknown key" => "rp_nmae",
            _ => "site brand-b: invalid RP_CEREMONY_TTL_SECS",
        };
        assert!(err.contains(expected), "{what}: {err}");
    }
}
