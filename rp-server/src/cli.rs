//! `rp-server admin …`: the admin operations for operators with database access, with
//! human-readable or `--json` output. Same code paths and audit events as the admin API.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;
use uuid::Uuid;

use crate::admin::{self, AdminService, AuditFilter, NoticeOutcome, Notices, UserRef};
use crate::cognito::CognitoAdmin;
use crate::config::settings::text;
use crate::config::{ConfigFile, DatabaseConfig, Layered, Settings};
use crate::flows::notices::Notifier;
use crate::mail::Mailer;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The settings `serve` reads (the database, the pool, mail), from the environment
    /// and the config file.
    #[command(flatten)]
    pub config: ConfigFile,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The site to administer: a `[[site]]` table's id (its pool, mail and policies are
    /// used). Unset: `default`, from the top level's settings.
    #[arg(long, global = true, value_name = "ID")]
    pub site: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// List a user's credentials (revoked ones included).
    List(UserSelector),
    /// Show one credential.
    Show {
        /// base64url, which may begin with `-`: taken as the id, not as an option.
        #[arg(allow_hyphen_values = true)]
        credential_id: String,
    },
    /// Revoke one credential for good.
    Revoke {
        /// base64url, which may begin with `-`: taken as the id, not as an option.
        #[arg(allow_hyphen_values = true)]
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
    /// Unlock email codes for a user whose address too many wrong codes locked.
    Unlock {
        #[arg(long)]
        sub: String,
    },
    /// Issue a one-time enrolment token (account recovery); printed once.
    Enrol {
        #[arg(long)]
        sub: String,
        /// Needed only for a user rp-server has never seen.
        #[arg(long)]
        username: Option<String>,
        /// Lifetime in seconds (at most 7 days) [default: RP_ENROLMENT_TTL_SECS].
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
    /// List a user's enrolment tokens.
    Tokens {
        #[arg(long)]
        sub: String,
    },
    /// Revoke an enrolment token.
    RevokeToken { id: Uuid },
    /// Read the audit log, newest first.
    Audit(AuditFilter),
    /// Users with passkeys, credentials by authenticator, sign-ins per day.
    Stats,
    /// Active passkeys that do not satisfy their user's current passkey policy.
    PolicyReport(crate::admin::PolicyReportQuery),
    /// Import passkeys from a JSON Lines file (`-` reads standard input): one passkey
    /// record per line, each imported whole or not at all; a re-run carries on.
    Import {
        file: std::path::PathBuf,
        /// Check every line and report; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Create a user named only by an email the pool does not have (unverified).
        #[arg(long)]
        create_missing_users: bool,
        /// Mail each user a "passkey added" notice.
        #[arg(long)]
        notify: bool,
    },
    /// Export every active passkey (or one user's) as JSON Lines to standard output.
    Export {
        /// Only this user's passkeys (Cognito sub).
        #[arg(long)]
        user: Option<String>,
    },
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

/// Where `revoke` and `reset` send their security notices, as `serve` would; `None`
/// when notices are off or cannot reach anyone (said on stderr).
async fn notifier(s: &Settings) -> anyhow::Result<Option<Notifier>> {
    let Some(email) = crate::config::email::email_config(s)? else {
        if s.email_notify == Some(true) {
            anyhow::bail!("RP_EMAIL_NOTIFY needs mail: set RP_EMAIL_TRANSPORT");
        }
        return Ok(None);
    };
    if s.email_notify == Some(false) {
        return Ok(None);
    }
    let Some(pool) = pool_id(s) else {
        eprintln!(
            "no security notice: RP_COGNITO_USER_POOL_ID is needed to find the user's verified email"
        );
        return Ok(None);
    };
    let Some(rp_name) = text(&s.rp_name).or(text(&s.rp_id)) else {
        eprintln!("no security notice: set RP_NAME or RP_ID, the name the notice gives");
        return Ok(None);
    };
    Ok(Some(Notifier::new(
        Arc::new(Mailer::new(&email).await?),
        Arc::new(CognitoAdmin::from_environment(pool).await),
        rp_name.to_owned(),
    )))
}

/// Says what became of a notice; a failure never undoes the change (it is committed).
fn report(notice: &NoticeOutcome) {
    match notice {
        NoticeOutcome::Sent => eprintln!("security notice sent to the user's verified email"),
        NoticeOutcome::NoVerifiedEmail => {
            eprintln!("no security notice: the user has no verified email")
        }
        NoticeOutcome::Failed(e) => eprintln!("warning: the security notice was not sent: {e}"),
        NoticeOutcome::Off | NoticeOutcome::Queued => {}
    }
}

/// RP_COGNITO_USER_POOL_ID, if set to something.
fn pool_id(s: &Settings) -> Option<String> {
    text(&s.cognito_user_pool_id).map(str::to_owned)
}

/// What every subcommand works with.
struct Ctx {
    db: crate::store::Db,
    settings: Settings,
    cognito: Option<CognitoAdmin>,
    /// Only for the commands that send notices.
    notifier: Option<Notifier>,
    json: bool,
    /// `admin:cli:<the operating-system user>`: the operator has database access, so the
    /// audit's actor is who they are logged in as.
    actor: String,
    now: DateTime<Utc>,
    policies: crate::policy::Policies,
    /// The site administered (the default one until the CLI can name another).
    site: crate::model::SiteId,
}

impl Ctx {
    /// The admin service, as this operator, with notices awaited and reported.
    fn service(&self) -> AdminService<'_> {
        AdminService {
            db: &self.db,
            site: &self.site,
            now: self.now,
            actor: &self.actor,
            cognito: self.cognito.as_ref(),
            notices: self.notifier.as_ref().map_or(Notices::Off, Notices::Await),
            enrolment_ttl: std::time::Duration::from_secs(
                self.settings
                    .enrolment_ttl_secs
                    .unwrap_or(crate::config::DEFAULT_ENROLMENT_TTL_SECS),
            ),
            policies: &self.policies,
            mds: None,
            max_passkeys: self
                .settings
                .max_passkeys_per_user
                .unwrap_or(crate::config::DEFAULT_MAX_PASSKEYS_PER_USER),
        }
    }

    fn print<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        print(self.json, value, text)
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let layered = Layered::from_process(args.config.path.as_deref())?;
    let database = DatabaseConfig::from_settings(&layered.settings)?;
    let (site, settings) = match &args.site {
        None => (crate::model::SiteId::default(), layered.settings),
        Some(id) => layered
            .site_settings()?
            .into_iter()
            .find(|(site, _)| site.as_str() == id)
            .ok_or_else(|| anyhow::anyhow!("no [[site]] table has the id {id:?}"))?,
    };
    let cognito = match pool_id(&settings) {
        Some(pool) => Some(CognitoAdmin::from_environment(pool).await),
        None => None,
    };
    let notifier = match args.command {
        AdminCommand::Revoke { .. }
        | AdminCommand::Reset { .. }
        | AdminCommand::Import { notify: true, .. } => notifier(&settings).await?,
        _ => None,
    };
    let policies = crate::config::policies_of(&settings)?;
    let ctx = Ctx {
        policies,
        site,
        db: crate::connect_lazy(&database.url, 2, database.timeouts)?,
        settings,
        cognito,
        notifier,
        json: args.json,
        actor: format!(
            "admin:cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        now: Utc::now(),
    };
    match args.command {
        AdminCommand::List(sel) => list(&ctx, sel).await,
        AdminCommand::Show { credential_id } => show(&ctx, &credential_id).await,
        AdminCommand::Revoke {
            credential_id,
            reason,
        } => revoke(&ctx, &credential_id, reason).await,
        AdminCommand::Reset { sub, reason } => reset(&ctx, sub, reason).await,
        AdminCommand::Unlock { sub } => {
            let unlocked = ctx.service().unlock(&sub).await?;
            ctx.print(&unlocked, |o| {
                writeln!(
                    o,
                    "unlocked email codes for {} ({})",
                    unlocked.email,
                    if unlocked.had_failures {
                        "failures forgiven"
                    } else {
                        "nothing was counted"
                    }
                )
            })
        }
        AdminCommand::Enrol {
            sub,
            username,
            ttl_secs,
        } => enrol(&ctx, &sub, username, ttl_secs).await,
        AdminCommand::Tokens { sub } => tokens(&ctx, sub).await,
        AdminCommand::RevokeToken { id } => revoke_token(&ctx, id).await,
        AdminCommand::Audit(filter) => audit(&ctx, filter).await,
        AdminCommand::Stats => stats(&ctx).await,
        AdminCommand::PolicyReport(q) => policy_report(&ctx, q).await,
        AdminCommand::Import {
            file,
            dry_run,
            create_missing_users,
            notify,
        } => {
            let options = crate::admin::ImportOptions {
                dry_run,
                create_missing_users,
                notify,
            };
            Box::pin(import(&ctx, &file, options)).await
        }
        AdminCommand::Export { user } => Box::pin(export(&ctx, user)).await,
    }
}

/// Reads the file a chunk at a time (never whole) through the importer, then prints the
/// report; exits non-zero when a line was refused or a user not found.
async fn import(
    ctx: &Ctx,
    file: &std::path::Path,
    options: crate::admin::ImportOptions,
) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt as _;
    let mut input: Box<dyn tokio::io::AsyncRead + Unpin + Send> = if file.as_os_str() == "-" {
        Box::new(tokio::io::stdin())
    } else {
        Box::new(
            tokio::fs::File::open(file)
                .await
                .with_context(|| format!("opening {}", file.display()))?,
        )
    };
    let service = ctx.service();
    let mut importer = service.importer(options);
    let mut lines = crate::admin::Lines::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut chunk).await.context("reading the file")?;
        if n == 0 {
            break;
        }
        lines.feed(&mut importer, &chunk[..n]).await?;
    }
    lines.finish(&mut importer).await?;
    let report = importer.finish().await?;
    ctx.print(&report, |o| {
        writeln!(
            o,
            "{}{} lines: {} imported, {} already present, {} users created, {} refused, {} users not found",
            if report.dry_run { "dry run: " } else { "" },
            report.lines,
            report.imported,
            report.already_present,
            report.users_created,
            report.refused.len(),
            report.users_not_found.len(),
        )?;
        for r in report.refused.iter().chain(&report.users_not_found) {
            writeln!(o, "line {}: {} {}", r.line, r.code, r.message)?;
        }
        Ok(())
    })?;
    if !report.refused.is_empty() || !report.users_not_found.is_empty() {
        std::process::exit(2);
    }
    Ok(())
}

async fn export(ctx: &Ctx, user: Option<String>) -> anyhow::Result<()> {
    use futures::TryStreamExt as _;
    use tokio::io::AsyncWriteExt as _;
    let mut out = tokio::io::stdout();
    let mut lines = std::pin::pin!(crate::admin::export(ctx.db.clone(), ctx.site.clone(), user));
    while let Some(chunk) = lines.try_next().await? {
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(())
}

async fn list(ctx: &Ctx, sel: UserSelector) -> anyhow::Result<()> {
    let r = match (sel.sub, sel.username, sel.email) {
        (Some(s), _, _) => UserRef::Sub(s),
        (None, Some(u), _) => UserRef::Username(u),
        (None, None, Some(e)) => UserRef::Email(e),
        (None, None, None) => anyhow::bail!("give --sub, --username or --email"),
    };
    let (user, creds) = ctx.service().credentials(&r).await?;
    ctx.print(&creds, |o| {
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

async fn show(ctx: &Ctx, credential_id: &str) -> anyhow::Result<()> {
    let c = ctx.service().credential(credential_id).await?;
    ctx.print(&c, |o| {
        writeln!(
            o,
            "{} of {} (sub {})",
            credential_line(&c),
            c.username,
            c.user_sub
        )
    })
}

async fn revoke(ctx: &Ctx, credential_id: &str, reason: Option<String>) -> anyhow::Result<()> {
    let revoked = ctx
        .service()
        .revoke(credential_id, reason.as_deref())
        .await?;
    report(&revoked.notice);
    let c = revoked.credential;
    ctx.print(&c, |o| writeln!(o, "revoked: {}", credential_line(&c)))
}

async fn reset(ctx: &Ctx, sub: String, reason: Option<String>) -> anyhow::Result<()> {
    let outcome = ctx.service().reset(&sub, reason.as_deref()).await?;
    report(&outcome.notice);
    eprintln!(
        "sessions ended; Cognito sign-out: {}",
        outcome.cognito_sign_out
    );
    let (user, revoked) = (outcome.user, outcome.revoked);
    ctx.print(&revoked, |o| {
        writeln!(
            o,
            "reset {}: {} credential(s) revoked",
            user.username,
            revoked.len()
        )
    })
}

async fn enrol(
    ctx: &Ctx,
    sub: &str,
    username: Option<String>,
    ttl_secs: Option<u64>,
) -> anyhow::Result<()> {
    let issued = ctx
        .service()
        .issue_enrolment_token(sub, username.as_deref(), ttl_secs)
        .await?;
    ctx.print(&issued, |o| {
        writeln!(
            o,
            "enrolment token for sub {} (id {}), valid until {}:",
            issued.details.user_sub, issued.details.id, issued.details.expires_at
        )?;
        writeln!(o, "{}", issued.token)
    })
}

async fn tokens(ctx: &Ctx, sub: String) -> anyhow::Result<()> {
    let tokens = ctx.service().enrolment_tokens(&sub).await?;
    ctx.print(&tokens, |o| {
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

async fn revoke_token(ctx: &Ctx, id: Uuid) -> anyhow::Result<()> {
    let t = ctx.service().revoke_enrolment_token(id).await?;
    ctx.print(&t, |o| {
        writeln!(o, "enrolment token {} is {}", t.id, t.status)
    })
}

async fn policy_report(ctx: &Ctx, q: crate::admin::PolicyReportQuery) -> anyhow::Result<()> {
    let report = ctx.service().policy_report(&q).await?;
    ctx.print(&report, |o| {
        for v in &report.violations {
            writeln!(
                o,
                "{}  policy={} rule={} sub={} username={} authenticator={}",
                v.credential_id,
                v.policy,
                v.rule,
                v.user_sub,
                v.username,
                v.authenticator_name.as_deref().unwrap_or("-"),
            )?;
        }
        if let Some(next) = &report.next_cursor {
            writeln!(o, "more: --cursor {next}")?;
        }
        Ok(())
    })
}

async fn audit(ctx: &Ctx, filter: AuditFilter) -> anyhow::Result<()> {
    let page = ctx.service().audit_log(&filter).await?;
    ctx.print(&page, |o| {
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

async fn stats(ctx: &Ctx) -> anyhow::Result<()> {
    let s = ctx.service().stats().await?;
    ctx.print(&s, |o| {
        writeln!(o, "users with passkeys: {}", s.users_with_passkeys)?;
        writeln!(
            o,
            "credentials: {} active, {} revoked",
            s.active_credentials, s.revoked_credentials
        )?;
        for a in &s.credentials_by_authenticator {
            let name = a.name.clone().or(a.aaguid.map(|u| u.to_string()));
            writeln!(
                o,
                "  {:>6}  {}",
                a.credentials,
                name.unwrap_or_else(|| "unknown".into())
            )?;
        }
        for d in &s.sign_ins_per_day {
            writeln!(o, "  {}  {} sign-ins", d.day, d.sign_ins)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Admin {
        #[command(flatten)]
        args: AdminArgs,
    }

    /// A base64url credential id may begin with `-` (one in 64 do): it is the id, not an
    /// unknown option.
    #[test]
    fn a_credential_id_may_begin_with_a_dash() {
        use clap::Parser as _;
        let parsed =
            Admin::try_parse_from(["admin", "revoke", "-GyQ6_zJ9uwjh2kE", "--reason", "stolen"])
                .unwrap();
        assert!(matches!(
            parsed.args.command,
            AdminCommand::Revoke { ref credential_id, ref reason }
                if credential_id == "-GyQ6_zJ9uwjh2kE" && reason.as_deref() == Some("stolen")
        ));
        let parsed = Admin::try_parse_from(["admin", "show", "-abc"]).unwrap();
        assert!(
            matches!(parsed.args.command, AdminCommand::Show { credential_id } if credential_id == "-abc")
        );
    }
}
