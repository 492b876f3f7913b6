//! `rp-server admin …`: the admin operations for operators with database access, with
//! human-readable or `--json` output. Same code paths and audit events as the admin API.

use std::io::Write as _;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;
use uuid::Uuid;

use crate::admin::{self, AuditFilter, UserRef};
use crate::cognito::CognitoAdmin;
use crate::config::DatabaseArgs;
use crate::flows::notices::{self, Notice};
use crate::mail::Mailer;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who is acting, for the audit log [default: admin:cli:$USER].
    #[arg(long, global = true)]
    pub actor: Option<String>,
    /// The user pool rp-server administers: `reset` then also signs the user out of it
    /// (AdminUserGlobalSignOut, with the AWS SDK's standard credentials).
    #[arg(long, env = "RP_COGNITO_USER_POOL_ID", global = true)]
    pub cognito_user_pool_id: Option<String>,
    /// Mail, as for `serve`: `revoke` and `reset` then email the user a security notice
    /// (to their verified email, found in RP_COGNITO_USER_POOL_ID), as the admin API does.
    #[command(flatten)]
    pub email: crate::config::EmailArgs,
    /// Send those notices (default: on whenever RP_EMAIL_TRANSPORT is set, as for `serve`).
    #[arg(long, env = "RP_EMAIL_NOTIFY", value_name = "RP_EMAIL_NOTIFY", action = clap::ArgAction::Set, global = true)]
    pub email_notify: Option<bool>,
    /// The name notices give (as for `serve`; default RP_ID).
    #[arg(long, env = "RP_NAME", value_name = "RP_NAME", global = true)]
    pub rp_name: Option<String>,
    #[arg(long, env = "RP_ID", global = true, hide = true)]
    pub rp_id: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// List a user's credentials (revoked ones included).
    List(UserSelector),
    /// Show one credential.
    Show { credential_id: String },
    /// Revoke one credential for good.
    Revoke {
        credential_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Account reset: revoke all of a user's credentials and pending enrolment tokens.
    Reset {
        #[arg(long)]
        sub: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Issue a one-time enrolment token (account recovery); printed once.
    Enrol {
        #[arg(long)]
        sub: String,
        /// Needed only for a user rp-server has never seen.
        #[arg(long)]
        username: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 900)]
        ttl_secs: i64,
    },
    /// List a user's enrolment tokens.
    Tokens {
        #[arg(long)]
        sub: String,
    },
    /// Revoke an enrolment token.
    RevokeToken { id: Uuid },
    /// Read the audit log, newest first.
    Audit {
        #[arg(long)]
        sub: Option<String>,
        #[arg(long)]
        credential_id: Option<String>,
        #[arg(long)]
        action: Option<String>,
        /// RFC 3339 time.
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// RFC 3339 time.
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Users with passkeys, credentials by authenticator, sign-ins per day.
    Stats,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct UserSelector {
    #[arg(long)]
    pub sub: Option<String>,
    #[arg(long)]
    pub username: Option<String>,
    /// Looked up in the pool: needs RP_COGNITO_USER_POOL_ID and AWS credentials.
    #[arg(long)]
    pub email: Option<String>,
}

fn print<T: Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
    } else {
        text(&mut out)?;
    }
    Ok(())
}

fn credential_line(admin: &admin::AdminCredential) -> String {
    let c = &admin.summary;
    format!(
        "{}  {:<24} created {}  last used {}  signCount {}  {}{}",
        c.id,
        c.authenticator_name
            .clone()
            .or(c.nickname.clone())
            .unwrap_or_else(|| "unknown authenticator".into()),
        c.created_at.format("%Y-%m-%d %H:%M"),
        c.last_used_at
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "never".into()),
        admin.sign_count,
        if c.backup_eligible {
            "synced"
        } else {
            "device-bound"
        },
        admin
            .revoked_at
            .map(|t| format!(
                "  REVOKED {} by {}",
                t.format("%Y-%m-%d %H:%M"),
                admin.revoked_by.clone().unwrap_or_default()
            ))
            .unwrap_or_default(),
    )
}

/// Where `revoke` and `reset` send their security notices.
struct Notifier {
    mailer: Mailer,
    cognito: CognitoAdmin,
    rp_name: String,
}

impl Notifier {
    /// From the mail settings; `None` when notices are off or cannot reach anyone.
    async fn from_args(args: &AdminArgs) -> anyhow::Result<Option<Self>> {
        let Some(email) = args.email.config()? else {
            if args.email_notify == Some(true) {
                anyhow::bail!("RP_EMAIL_NOTIFY needs mail: set RP_EMAIL_TRANSPORT");
            }
            return Ok(None);
        };
        if args.email_notify == Some(false) {
            return Ok(None);
        }
        let Some(pool) = pool_id(args) else {
            eprintln!(
                "no security notice: RP_COGNITO_USER_POOL_ID is needed to find the user's verified email"
            );
            return Ok(None);
        };
        let Some(rp_name) = args.rp_name.clone().or_else(|| args.rp_id.clone()) else {
            eprintln!("no security notice: set RP_NAME or RP_ID, the name the notice gives");
            return Ok(None);
        };
        Ok(Some(Self {
            mailer: Mailer::new(&email).await?,
            cognito: CognitoAdmin::from_environment(pool).await,
            rp_name,
        }))
    }

    /// Sends it and says what happened; a failure is reported, never fails the change
    /// (it is committed), as with the admin API.
    async fn notify(notifier: Option<&Self>, sub: &str, notice: Notice, at: DateTime<Utc>) {
        let Some(n) = notifier else { return };
        match notices::deliver(&n.mailer, &n.cognito, &n.rp_name, sub, &notice, at).await {
            Ok(true) => eprintln!("security notice sent to the user's verified email"),
            Ok(false) => eprintln!("no security notice: the user has no verified email"),
            Err(e) => eprintln!("warning: the security notice was not sent: {e:#}"),
        }
    }
}

/// RP_COGNITO_USER_POOL_ID, if set to something.
fn pool_id(args: &AdminArgs) -> Option<String> {
    args.cognito_user_pool_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let db = crate::connect_lazy(&args.database.database_url, 2, args.database.timeouts()?)?;
    let actor = args.actor.clone().unwrap_or_else(|| {
        format!(
            "admin:cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    });
    let now = Utc::now();
    let json = args.json;
    // Revocations and resets tell the user, as the admin API does.
    let notifier = match args.command {
        AdminCommand::Revoke { .. } | AdminCommand::Reset { .. } => {
            Notifier::from_args(&args).await?
        }
        _ => None,
    };
    let pool = pool_id(&args);
    match args.command {
        AdminCommand::List(sel) => {
            let (r, cognito) = match (sel.sub, sel.username, sel.email) {
                (Some(s), _, _) => (UserRef::Sub(s), None),
                (None, Some(u), _) => (UserRef::Username(u), None),
                (None, None, Some(e)) => {
                    let pool = pool.clone().ok_or_else(|| {
                        anyhow::anyhow!("--email looks the user up in the pool: set RP_COGNITO_USER_POOL_ID (and AWS credentials)")
                    })?;
                    (
                        UserRef::Email(e),
                        Some(CognitoAdmin::from_environment(pool).await),
                    )
                }
                (None, None, None) => anyhow::bail!("give --sub, --username or --email"),
            };
            let user = admin::find_user(&db, cognito.as_ref(), &r).await?;
            let creds = admin::credentials(&db, &user).await?;
            print(json, &creds, |o| {
                writeln!(
                    o,
                    "{} (sub {}): {} credential(s)",
                    user.username,
                    user.cognito_sub,
                    creds.len()
                )?;
                for c in &creds {
                    writeln!(o, "  {}", credential_line(c))?;
                }
                Ok(())
            })
        }
        AdminCommand::Show { credential_id } => {
            let c = admin::credential(&db, &admin::credential_id(&credential_id)?).await?;
            print(json, &c, |o| {
                writeln!(
                    o,
                    "{} of {} (sub {})",
                    credential_line(&c),
                    c.username,
                    c.user_sub
                )
            })
        }
        AdminCommand::Revoke {
            credential_id,
            reason,
        } => {
            let c = admin::revoke(
                &db,
                &admin::credential_id(&credential_id)?,
                &actor,
                reason.as_deref(),
                now,
            )
            .await?;
            Notifier::notify(notifier.as_ref(), &c.user_sub, Notice::revoked(&c), now).await;
            print(json, &c, |o| {
                writeln!(o, "revoked: {}", credential_line(&c))
            })
        }
        AdminCommand::Reset { sub, reason } => {
            let user = admin::find_user(&db, None, &UserRef::Sub(sub)).await?;
            let cognito = match pool {
                Some(pool) => Some(CognitoAdmin::from_environment(pool).await),
                None => None,
            };
            let outcome =
                admin::reset(&db, &user, &actor, reason.as_deref(), now, cognito.as_ref()).await?;
            Notifier::notify(
                notifier.as_ref(),
                &user.cognito_sub,
                Notice::AccountReset,
                now,
            )
            .await;
            eprintln!(
                "sessions ended; Cognito sign-out: {}",
                outcome.cognito_sign_out
            );
            let revoked = outcome.revoked;
            print(json, &revoked, |o| {
                writeln!(
                    o,
                    "reset {}: {} credential(s) revoked",
                    user.username,
                    revoked.len()
                )
            })
        }
        AdminCommand::Enrol {
            sub,
            username,
            ttl_secs,
        } => {
            let issued = admin::issue_enrolment_token(
                &db,
                &sub,
                username.as_deref(),
                chrono::Duration::seconds(ttl_secs),
                &actor,
                now,
            )
            .await?;
            print(json, &issued, |o| {
                writeln!(
                    o,
                    "enrolment token for sub {} (id {}), valid until {}:",
                    issued.details.user_sub, issued.details.id, issued.details.expires_at
                )?;
                writeln!(o, "{}", issued.token)
            })
        }
        AdminCommand::Tokens { sub } => {
            let user = admin::find_user(&db, None, &UserRef::Sub(sub)).await?;
            let tokens = admin::enrolment_tokens(&db, &user, now).await?;
            print(json, &tokens, |o| {
                for t in &tokens {
                    writeln!(
                        o,
                        "{}  {:<8} created {} by {}  expires {}",
                        t.id,
                        t.status,
                        t.created_at.format("%Y-%m-%d %H:%M"),
                        t.created_by,
                        t.expires_at.format("%Y-%m-%d %H:%M")
                    )?;
                }
                Ok(())
            })
        }
        AdminCommand::RevokeToken { id } => {
            let t = admin::revoke_enrolment_token(&db, id, &actor, now).await?;
            print(json, &t, |o| {
                writeln!(o, "enrolment token {} is {}", t.id, t.status)
            })
        }
        AdminCommand::Audit {
            sub,
            credential_id,
            action,
            since,
            until,
            limit,
            cursor,
        } => {
            let filter = AuditFilter {
                sub,
                credential_id: credential_id
                    .as_deref()
                    .map(admin::credential_id)
                    .transpose()?,
                action,
                since,
                until,
                cursor,
                limit,
            };
            let page = admin::audit_log(&db, &filter).await?;
            print(json, &page, |o| {
                for e in &page.events {
                    writeln!(
                        o,
                        "{}  {:<26} {:<40} sub={} credential={} ip={}",
                        e.occurred_at.format("%Y-%m-%dT%H:%M:%SZ"),
                        e.action,
                        e.actor,
                        e.user_sub.as_deref().unwrap_or("-"),
                        e.credential_id.as_deref().unwrap_or("-"),
                        e.ip.as_deref().unwrap_or("-"),
                    )?;
                }
                if let Some(c) = &page.next_cursor {
                    writeln!(o, "more: --cursor {c}")?;
                }
                Ok(())
            })
        }
        AdminCommand::Stats => {
            let s = admin::stats(&db, now).await?;
            print(json, &s, |o| {
                writeln!(o, "users with passkeys: {}", s.users_with_passkeys)?;
                writeln!(
                    o,
                    "credentials: {} active, {} revoked",
                    s.active_credentials, s.revoked_credentials
                )?;
                for a in &s.credentials_by_authenticator {
                    writeln!(
                        o,
                        "  {:>6}  {}",
                        a.credentials,
                        a.name
                            .clone()
                            .or(a.aaguid.map(|u| u.to_string()))
                            .unwrap_or_else(|| "unknown".into())
                    )?;
                }
                for d in &s.sign_ins_per_day {
                    writeln!(o, "  {}  {} sign-ins", d.day, d.sign_ins)?;
                }
                Ok(())
            })
        }
    }
}
