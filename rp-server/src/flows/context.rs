//! The context flows act with ([`Context`]) and the site it names ([`Site`]).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::AccessTokenVerifier;
use crate::clock::Clock;
use crate::cognito::CognitoAdmin;
use anyhow::Context as _;

use super::{email, notices, sealed};
use crate::config::{Config, EmailSignIn};
use crate::model::{Hint, SiteId};
use crate::passkeys::RelyingParty;
use crate::store::Db;
use crate::{cognito, mail, store};

/// What a flow acts with: the database, the clock, and the site it acts for — never the
/// process. The HTTP layer builds one per request (`http::extract`), the background work
/// and the flow tests build their own. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub clock: Clock,
    pub site: Arc<Site>,
}

/// One relying party and the user pool behind it: its WebAuthn policy, the key that seals
/// its ceremonies, the verifier of its pool's access tokens, the settings its flows read,
/// and its optional Cognito and mail clients. The unit a second site will be.
pub struct Site {
    /// The id every row of this site carries.
    pub id: SiteId,
    pub settings: SiteSettings,
    pub rp: RelyingParty,
    pub sealer: sealed::Sealer,
    /// Conceals the Create trigger's username-first ceremonies (decision 0024).
    pub concealer: sealed::Concealer,
    /// Seals the Create trigger's challenges into their ids (decision 0024).
    pub challenges: sealed::Sealer,
    pub tokens: AccessTokenVerifier,
    /// Set when rp-server administers the user pool (`RP_COGNITO_USER_POOL_ID`): sign-up,
    /// email lookups and sign-out at an account reset use it.
    pub cognito: Option<Arc<CognitoAdmin>>,
    /// Email one-time codes and their delivery (`RP_EMAIL_TRANSPORT`).
    pub email: Option<Arc<email::EmailCodes>>,
    /// Security notices, when on (`RP_EMAIL_NOTIFY`, with mail and the pool).
    pub notifier: Option<notices::Notifier>,
    /// The key recovery codes are hashed with.
    pub recovery: super::recovery::RecoveryKey,
    /// The OpenID provider, when `RP_OIDC_ISSUER` is set.
    pub oidc: Option<Arc<super::oidc::Provider>>,
    /// Console admins' emails, for the audit's actor.
    pub admin_emails: cognito::EmailCache,
    /// The site's whole configuration, for the HTTP layer's per-site answers (CORS, the
    /// well-known files, the console's pool); flows read [`Site::settings`].
    pub config: Arc<Config>,
}

/// The settings flows read: a site's slice of [`Config`].
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub rp_id: String,
    pub rp_name: String,
    pub ceremony_ttl: Duration,
    pub nonce_ttl: Duration,
    pub enrolment_ttl: Duration,
    /// Default WebAuthn hints (`RP_HINTS`).
    pub hints: Vec<Hint>,
    /// How recent a sign-in must be to add or delete a passkey; `None`: no limit.
    pub reauth_max_age: Option<Duration>,
    /// The pool sign-up creates users in; `Some` means sign-up is on.
    pub signup_user_pool_id: Option<String>,
    pub signup_verify_email: bool,
    pub email_signin: EmailSignIn,
    pub email_code_ttl: Duration,
    pub email_link_url: Option<url::Url>,
    pub email_max_failures_per_ip_day: u32,
    pub email_signup_max_per_hour: u32,
    pub max_passkeys_per_user: u32,
    /// Passkey policies (`[[policy]]`).
    pub policies: crate::policy::Policies,
    /// The verified FIDO metadata, when given.
    pub mds: Option<Arc<crate::mds::MetadataStore>>,
}

impl SiteSettings {
    pub fn from_config(c: &Config) -> Self {
        Self {
            rp_id: c.rp_id.clone(),
            rp_name: c.rp_name.clone(),
            ceremony_ttl: c.ceremony_ttl,
            nonce_ttl: c.nonce_ttl,
            enrolment_ttl: c.enrolment_ttl,
            hints: c.hints.clone(),
            reauth_max_age: c.reauth_max_age,
            signup_user_pool_id: c.signup_user_pool_id.clone(),
            signup_verify_email: c.signup_verify_email,
            email_signin: c.email_signin,
            email_code_ttl: c.email_code_ttl,
            email_link_url: c.email_link_url.clone(),
            email_max_failures_per_ip_day: c.email_max_failures_per_ip_day,
            email_signup_max_per_hour: c.email_signup_max_per_hour,
            max_passkeys_per_user: c.max_passkeys_per_user,
            policies: c.policies.clone(),
            mds: c.mds.clone(),
        }
    }
}

impl Site {
    /// Builds the site `config` describes: reads its server keys from `db`, learns the
    /// shape of stored passkeys, and asks Cognito (at most 5 s each) how the pool names
    /// users and how long its sessions live.
    #[tracing::instrument(skip_all)]
    pub async fn build(
        config: &Config,
        db: &Db,
        clock: &Clock,
        cognito: Option<CognitoAdmin>,
    ) -> anyhow::Result<Self> {
        let site = &config.site;
        let key = |name: &'static str| async move {
            store::server_key(db, &server_key_name(site, name), clock.now())
                .await
                .context("reading server keys from the database")
        };
        let rp = RelyingParty::new(config, key("fake-challenge-options").await?)?;
        let (shapes, _) = store::credentials::shapes(db, site, rp.shape_sample())
            .await
            .context("reading the shapes of stored passkeys")?;
        rp.learn_shapes(shapes);
        let seal_key = key("sign-in-ceremony-seal").await?;
        let http_client = reqwest::Client::builder()
            .user_agent(concat!("rp-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let tokens = AccessTokenVerifier::new(
            config.cognito_issuer.clone(),
            config.cognito_jwks_url.clone(),
            config.cognito_client_ids.clone(),
            http_client,
            config.jwks_min_refresh,
        );
        let cognito = pool_admin(config, cognito).await.map(Arc::new);
        let email = match &config.email {
            Some(email) => Some(Arc::new(email::EmailCodes::new(
                Arc::new(mail::Mailer::new(email).await?),
                key("email-code").await?,
            ))),
            None => None,
        };
        let notifier = match (&email, &cognito) {
            (Some(email), Some(cognito)) if config.email_notify => Some(notices::Notifier::new(
                email.mailer.clone(),
                cognito.clone(),
                config.rp_name.clone(),
            )),
            _ => None,
        };
        if let Some(store) = &config.mds {
            let m = store.current();
            tracing::info!(number = m.number, next_update = %m.next_update, "FIDO metadata loaded");
        }
        if config.mds_custom_root {
            tracing::warn!(
                "the FIDO metadata was verified against RP_FIDO_MDS_ROOT_CERT, not the FIDO Alliance's root: attested passkeys are only as trustworthy as that root"
            );
        }
        Ok(Site {
            id: site.clone(),
            settings: SiteSettings::from_config(config),
            rp,
            sealer: sealed::Sealer::new(seal_key.clone()),
            concealer: sealed::Concealer::new(&seal_key, sealed::CONCEALED_PREFIX)?,
            challenges: sealed::Sealer::with_prefix(seal_key.clone(), sealed::CHALLENGE_PREFIX),
            tokens,
            cognito,
            email,
            notifier,
            recovery: super::recovery::RecoveryKey::new(key("recovery-code").await?),
            oidc: match &config.oidc {
                Some(oidc) => Some(Arc::new(super::oidc::Provider::new(
                    oidc.clone(),
                    key("oidc-request-seal").await?,
                ))),
                None => None,
            },
            admin_emails: cognito::EmailCache::default(),
            config: Arc::new(config.clone()),
        })
    }
}

/// The name of a site's server key: the default site's keep the names they had before
/// sites (so existing sealed ceremonies, code hashes and recovery codes stay valid), every
/// other site's are its own (`name@site`), so nothing one site seals or hashes means
/// anything at another.
fn server_key_name(site: &SiteId, name: &str) -> String {
    if site.as_str() == SiteId::DEFAULT {
        name.to_owned()
    } else {
        format!("{name}@{site}")
    }
}

/// The pool's admin client when the site administers the pool, after learning (at most
/// 5 s each; sign-up asks again when it needs to) how it names users and whether its
/// sessions outlive the ceremonies; what it could not learn is logged.
async fn pool_admin(config: &Config, cognito: Option<CognitoAdmin>) -> Option<CognitoAdmin> {
    const ASK_COGNITO_FOR: std::time::Duration = std::time::Duration::from_secs(5);
    let administers_pool =
        config.signup_user_pool_id.is_some() || config.cognito_user_pool_id.is_some();
    let cognito = cognito
        .filter(|_| administers_pool)
        .map(|c| c.with_shape(config.cognito_pool_shape));
    if let Some(admin) = &cognito {
        match tokio::time::timeout(ASK_COGNITO_FOR, admin.shape()).await {
            Ok(Ok(shape)) => tracing::info!(shape = shape.as_str(), "user pool shape"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not learn how the user pool names users; allow cognito-idp:DescribeUserPool or set RP_COGNITO_POOL_SHAPE")
            }
            Err(_) => tracing::warn!(
                "Cognito did not say how the user pool names users within 5 s; sign-up asks again"
            ),
        }
    }
    let warnings = tokio::time::timeout(
        ASK_COGNITO_FOR,
        cognito::session_validity_warnings(
            config.ceremony_ttl,
            &config.cognito_client_ids,
            cognito.as_ref(),
        ),
    )
    .await
    .unwrap_or_else(|_| {
        vec!["cannot check RP_CEREMONY_TTL_SECS against the app clients' AuthSessionValidity: Cognito did not answer within 5 s".to_owned()]
    });
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    cognito
}
