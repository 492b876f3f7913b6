//! What admins read: the audit log and aggregate statistics.

use crate::model::SiteId;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AdminError, AdminService, b64};
use crate::audit::Action;
use crate::store::{self, audit::EventFilter, credentials};

/// One audit event as admins read it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub user_sub: Option<String>,
    pub credential_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// What to read of the audit log, as an admin gives it: the API's query string and the
/// CLI's flags are this one type.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, clap::Args)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AuditFilter {
    /// Only events about this Cognito `sub`.
    #[arg(long)]
    pub sub: Option<String>,
    /// Only events about this credential (base64url).
    #[arg(long)]
    pub credential_id: Option<String>,
    /// Only this action, e.g. `credential.revoked`.
    #[arg(long)]
    pub action: Option<String>,
    /// Only events whose actor starts with this, e.g. `admin:` or `admin:cognito:<sub>`.
    #[arg(long)]
    pub actor: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    /// Events before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
    /// `nextCursor` of the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Page size, 1-500 (default 100; the CLI asks for 50).
    #[arg(long, default_value = "50")]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn decode_cursor(c: &str) -> Result<(DateTime<Utc>, i64), AdminError> {
    store::audit::decode_cursor(c).ok_or_else(|| {
        AdminError::InvalidCursor("the cursor is not one this server issued".to_owned())
    })
}

/// The audit log, newest first, paginated with a keyset cursor.
impl AdminService<'_> {
    #[tracing::instrument(skip_all)]
    pub async fn audit_log(&self, f: &AuditFilter) -> Result<AuditPage, AdminError> {
        let limit = f.limit.unwrap_or(100).clamp(1, 500);
        let cursor = f.cursor.as_deref().map(decode_cursor).transpose()?;
        let mut events = read_events(self.db, self.site, f, cursor, limit + 1).await?;
        let next_cursor = if events.len() as i64 > limit {
            events.truncate(limit as usize);
            events
                .last()
                .map(|e| store::audit::encode_cursor(e.occurred_at, e.id))
        } else {
            None
        };
        Ok(AuditPage {
            events,
            next_cursor,
        })
    }
}

/// One page of events matching `f` (its cursor and limit aside), before `before`.
async fn read_events(
    db: &store::Db,
    site: &SiteId,
    f: &AuditFilter,
    before: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> Result<Vec<AuditEventView>, AdminError> {
    let credential_id = f
        .credential_id
        .as_deref()
        .map(super::credential_id)
        .transpose()?;
    let rows = store::audit::events(
        db,
        site,
        &EventFilter {
            sub: f.sub.as_deref(),
            credential_id: credential_id.as_deref(),
            action: f.action.as_deref(),
            actor: f.actor.as_deref(),
            since: f.since,
            until: f.until,
            before,
            limit,
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEventView {
            id: r.id,
            occurred_at: r.occurred_at,
            actor: r.actor,
            action: r.action,
            user_sub: r.cognito_sub,
            credential_id: r.credential_id.map(|c| b64(&c)),
            ip: r.ip,
            user_agent: r.user_agent,
            details: r.details,
        })
        .collect())
}

/// Rows the CSV export reads per statement: memory stays bounded whatever the log's size.
const CSV_CHUNK: i64 = 500;

/// The audit events matching `f` (its cursor and limit ignored), newest first, as CSV
/// with a header row: read [`CSV_CHUNK`] rows at a time while the body is sent, never
/// the whole log at once. Text a spreadsheet would run as a formula (a user agent is
/// the client's to choose) is neutralised with a leading `'`.
pub fn audit_csv(
    db: store::Db,
    site: SiteId,
    f: AuditFilter,
) -> Result<impl futures::Stream<Item = Result<Vec<u8>, AdminError>> + Send + 'static, AdminError> {
    if let Some(id) = &f.credential_id {
        super::credential_id(id)?;
    }
    let header = csv_rows(&[], true)?;
    let first = futures::stream::once(async move { Ok(header) });
    let rest = futures::stream::try_unfold(
        (db, site, f, None::<(DateTime<Utc>, i64)>, false),
        |(db, site, f, before, done)| async move {
            if done {
                return Ok(None);
            }
            let events = read_events(&db, &site, &f, before, CSV_CHUNK).await?;
            let done = (events.len() as i64) < CSV_CHUNK;
            let next = events.last().map(|e| (e.occurred_at, e.id));
            if events.is_empty() {
                return Ok(None);
            }
            Ok(Some((csv_rows(&events, false)?, (db, site, f, next, done))))
        },
    );
    Ok(futures::StreamExt::chain(first, rest))
}

/// `events` as CSV lines (with the header row first when `header`).
fn csv_rows(events: &[AuditEventView], header: bool) -> Result<Vec<u8>, AdminError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| AdminError::Invalid(format!("CSV: {e}"));
    if header {
        w.write_record([
            "occurred_at",
            "actor",
            "action",
            "user_sub",
            "credential_id",
            "ip",
            "user_agent",
            "details",
        ])
        .map_err(failed)?;
    }
    for e in events {
        let details = e.details.to_string();
        w.write_record([
            e.occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .as_str(),
            &inert(&e.actor),
            &inert(&e.action),
            e.user_sub.as_deref().unwrap_or(""),
            e.credential_id.as_deref().unwrap_or(""),
            e.ip.as_deref().unwrap_or(""),
            &inert(e.user_agent.as_deref().unwrap_or("")),
            &inert(&details),
        ])
        .map_err(failed)?;
    }
    w.into_inner()
        .map_err(|e| AdminError::Invalid(format!("CSV: {e}")))
}

/// Text a spreadsheet will not evaluate: a cell starting with `=`, `+`, `-`, `@`, tab
/// or carriage return gets a leading `'` (OWASP's advice on CSV injection).
fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorCount {
    pub aaguid: Option<Uuid>,
    pub name: Option<String>,
    /// The model's icon from the FIDO metadata (a raster `data:` URI), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    pub credentials: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayCount {
    pub day: chrono::NaiveDate,
    pub sign_ins: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Users in the pool, as Cognito estimates it (`DescribeUserPool`); absent when
    /// rp-server does not administer the pool or Cognito could not say.
    pub pool_users: Option<i64>,
    pub users_with_passkeys: i64,
    /// Users whose client reported passkeys with Cognito itself and who have none of
    /// ours yet (best effort: only clients that call `migrateFromCognitoPasskeys` report).
    pub users_with_only_cognito_passkeys: i64,
    pub active_credentials: i64,
    pub revoked_credentials: i64,
    pub credentials_by_authenticator: Vec<AuthenticatorCount>,
    /// Successful passkey sign-ins per UTC day, the last 30 days (the days with any).
    pub sign_ins_per_day: Vec<DayCount>,
    /// Present when the passkey figures above are estimates: the site is large, so they
    /// were counted over the users whose ids fall in a fixed range and scaled up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<StatsSample>,
}

/// The sample the passkey figures were estimated from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsSample {
    /// Users with a passkey in the sample.
    pub users: u64,
    /// The share of all user ids the sample's range covers (1/2, 1/4, …): each figure is
    /// the sample's count divided by it.
    pub fraction: f64,
}

/// Users whose passkeys the statistics count, about, before they estimate from a sample:
/// a standard error of about 1 % for every figure that is not rare.
pub const STATS_SAMPLE_USERS: u64 = 16_384;

/// A fixed range of user ids for the statistics' sample: the same users on every request,
/// so the figures do not jitter from one look to the next.
const STATS_SAMPLE_ANCHOR: Uuid = Uuid::from_u128(0x5a5a_5a5a_5a5a_4a5a_9a5a_5a5a_5a5a_5a5a);

impl AdminService<'_> {
    /// Aggregate statistics.
    #[tracing::instrument(skip_all)]
    pub async fn stats(&self) -> Result<Stats, AdminError> {
        let (db, now) = (self.db, self.now);
        let (figures, sampled) =
            credentials::figures(db, self.site, STATS_SAMPLE_ANCHOR, STATS_SAMPLE_USERS).await?;
        let scale = sampled.scale();
        let scaled = |n: i64| (n as f64 * scale).round() as i64;
        let today = now.date_naive();
        let mut per_day: Vec<(chrono::NaiveDate, i64)> = Vec::new();
        for (day, action, _, n) in
            store::audit::daily(db, self.site, today - Duration::days(29), now).await?
        {
            if action != Action::AuthenticationSucceeded.as_str() {
                continue;
            }
            match per_day.last_mut() {
                Some((last, sum)) if *last == day => *sum += n,
                _ => per_day.push((day, n)),
            }
        }
        let pool_users = match self.cognito {
            Some(cognito) => cognito
                .estimated_users()
                .await
                .inspect_err(|e| tracing::warn!(error = %e, "could not count the pool's users"))
                .ok(),
            None => None,
        };
        Ok(Stats {
            pool_users,
            users_with_only_cognito_passkeys: scaled(figures.users_with_only_cognito_passkeys),
            users_with_passkeys: scaled(figures.users_with_passkeys),
            active_credentials: scaled(figures.active),
            revoked_credentials: scaled(figures.revoked),
            credentials_by_authenticator: figures
                .by_aaguid
                .into_iter()
                .map(|(aaguid, n)| AuthenticatorCount {
                    aaguid,
                    name: self
                        .mds
                        .and_then(|m| m.current().model(aaguid?)?.description.clone())
                        .or_else(|| crate::authenticators::name(aaguid)),
                    icon: crate::authenticators::icon(self.mds, aaguid),
                    credentials: scaled(n),
                })
                .collect(),
            sign_ins_per_day: per_day
                .into_iter()
                .map(|(day, n)| DayCount { day, sign_ins: n })
                .collect(),
            sample: (sampled.bits > 0).then(|| StatsSample {
                users: sampled.users,
                fraction: 1.0 / scale,
            }),
        })
    }
}

/// A passkey that does not satisfy its user's current policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyViolationView {
    /// base64url; revoke it with `POST /admin/v1/credentials/{id}/revoke`.
    pub credential_id: String,
    pub user_sub: String,
    pub username: String,
    pub aaguid: Option<Uuid>,
    pub authenticator_name: Option<String>,
    pub backup_eligible: bool,
    pub created_at: DateTime<Utc>,
    pub policy: String,
    /// `aaguid` or `device_bound`.
    pub rule: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    pub violations: Vec<PolicyViolationView>,
    /// Pass as `cursor` for the next page; absent when every passkey was looked at. A page
    /// looks at [`REPORT_PAGE_SCAN`] passkeys at most, so it may hold fewer violations than
    /// `limit` (none, even) and still have a next page.
    pub next_cursor: Option<String>,
}

/// Which page of the policy report.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, clap::Args)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PolicyReportQuery {
    /// `nextCursor` of the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Violations per page, 1-500 (default 100).
    #[arg(long)]
    pub limit: Option<i64>,
}

/// Passkeys are read in batches of this many while a page fills.
const REPORT_BATCH: i64 = 1000;

/// Passkeys one page of the policy report looks at, at most: a page of a site with few
/// violations among millions of passkeys would otherwise read them all in one request,
/// beyond its timeout.
pub const REPORT_PAGE_SCAN: i64 = 20 * REPORT_BATCH;

impl AdminService<'_> {
    /// Every active passkey that does not satisfy its user's current policy (the groups
    /// of the user's latest access token), in credential-id order, paged.
    #[tracing::instrument(skip_all)]
    pub async fn policy_report(&self, q: &PolicyReportQuery) -> Result<PolicyReport, AdminError> {
        let limit = q.limit.unwrap_or(100).clamp(1, 500) as usize;
        let mut after = match q.cursor.as_deref() {
            Some(c) => Some(URL_SAFE_NO_PAD.decode(c).map_err(|_| {
                AdminError::InvalidCursor("the cursor is not one this server issued".to_owned())
            })?),
            None => None,
        };
        let mut violations = Vec::new();
        if self.policies.all().is_empty() {
            return Ok(PolicyReport {
                violations,
                next_cursor: None,
            });
        }
        let mut scanned = 0;
        loop {
            let rows = credentials::active_for_policies(
                self.db,
                self.site,
                after.as_deref(),
                REPORT_BATCH,
            )
            .await?;
            let scanned_all = (rows.len() as i64) < REPORT_BATCH;
            scanned += rows.len() as i64;
            for row in rows {
                after = Some(row.credential_id.clone());
                let passkey = crate::policy::Passkey {
                    aaguid: row.aaguid,
                    backup_eligible: row.backup_eligible,
                    attested: row.attested,
                };
                if let Some((policy, rule)) = self.policies.violation(&row.groups, passkey, false) {
                    violations.push(PolicyViolationView {
                        credential_id: b64(&row.credential_id),
                        user_sub: row.cognito_sub,
                        username: row.username,
                        aaguid: row.aaguid,
                        authenticator_name: crate::authenticators::name(row.aaguid),
                        backup_eligible: row.backup_eligible,
                        created_at: row.created_at,
                        policy: policy.name.clone(),
                        rule: rule.as_str().to_owned(),
                    });
                    if violations.len() == limit {
                        return Ok(PolicyReport {
                            violations,
                            next_cursor: after.as_deref().map(b64),
                        });
                    }
                }
            }
            if scanned_all || scanned >= REPORT_PAGE_SCAN {
                return Ok(PolicyReport {
                    violations,
                    next_cursor: if scanned_all {
                        None
                    } else {
                        after.as_deref().map(b64)
                    },
                });
            }
        }
    }
}

/// Sign-ins of one day by how they were made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInsByFactor {
    pub passkey_usernameless: i64,
    pub passkey_username_first: i64,
    pub email_code: i64,
    pub recovery_code: i64,
}

/// One UTC day of the console's charts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayStats {
    pub day: chrono::NaiveDate,
    pub sign_ins: SignInsByFactor,
    /// Failures by `<action>:<reason>` (e.g. `authentication.failed:VERIFICATION_FAILED`).
    pub failures: BTreeMap<String, i64>,
    pub email_codes_sent: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyStats {
    /// Every day of the range, oldest first, today last (counted live).
    pub days: Vec<DayStats>,
}

/// How many days of statistics an admin may ask for at once.
pub const MAX_STATS_DAYS: i64 = 400;

impl AdminService<'_> {
    /// Sign-ins per day by factor, failures per day by reason, email codes sent, for the
    /// last `days` UTC days (today included): finished days from the daily rollup, today
    /// counted live.
    #[tracing::instrument(skip_all)]
    pub async fn daily_stats(&self, days: i64) -> Result<DailyStats, AdminError> {
        let days = days.clamp(1, MAX_STATS_DAYS);
        let today = self.now.date_naive();
        let since = today - Duration::days(days - 1);
        let rows = store::audit::daily(self.db, self.site, since, self.now).await?;
        let mut out: Vec<DayStats> = (0..days)
            .map(|i| DayStats {
                day: since + Duration::days(i),
                ..Default::default()
            })
            .collect();
        for (day, action, detail, n) in rows {
            let Some(d) = out.iter_mut().find(|d| d.day == day) else {
                continue;
            };
            match (action.as_str(), detail.as_str()) {
                ("authentication.succeeded", "usernameless") => {
                    d.sign_ins.passkey_usernameless += n
                }
                ("authentication.succeeded", _) => d.sign_ins.passkey_username_first += n,
                ("email.code_verified", "sign_in") => d.sign_ins.email_code += n,
                ("email.code_verified", _) => {}
                ("recovery.code_used", _) => d.sign_ins.recovery_code += n,
                ("email.code_sent", _) => d.email_codes_sent += n,
                (action, detail) => {
                    *d.failures.entry(format!("{action}:{detail}")).or_default() += n
                }
            }
        }
        Ok(DailyStats { days: out })
    }
}
