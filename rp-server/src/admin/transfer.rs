//! Bringing passkeys in from another relying party and taking them out: one JSON object
//! per line (the format is the README's contract). A passkey is bound to its RP ID, not to
//! a vendor: with its public key, credential id, user handle and counter, rp-server on the
//! same RP ID verifies it.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AdminError, AdminService, b64};
use crate::audit::{self, Action, Actor, Event};
use crate::store::{self, StoredCredential, credentials, users};

/// One passkey, as a line of an import or export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyRecord {
    /// Whose it is: exactly one of `sub`, `username` or `email`.
    pub user: RecordUser,
    /// base64url.
    pub credential_id: String,
    /// The COSE_Key, base64url (ES256 or RS256).
    pub public_key: String,
    pub sign_count: i64,
    /// The user handle the authenticator holds, base64url (absent: ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_handle: Option<String>,
    #[serde(default)]
    pub transports: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// How an import runs.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ImportOptions {
    /// Check every line and report, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// A user named only by an email the pool does not have is created (as passkey-first
    /// sign-up does, with `email_verified=false`) instead of reported.
    #[serde(default)]
    pub create_missing_users: bool,
    /// Mail each user a "passkey added" notice (off by default: an import is no news to
    /// users whose passkeys simply moved).
    #[serde(default)]
    pub notify: bool,
}

/// A line that was not imported, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineRefusal {
    /// 1-based.
    pub line: u64,
    /// e.g. `INVALID_PUBLIC_KEY`, `UNSUPPORTED_ALGORITHM`, `CREDENTIAL_CONFLICT`.
    pub code: String,
    pub message: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub dry_run: bool,
    /// Lines read (blank lines aside).
    pub lines: u64,
    pub imported: u64,
    /// Already stored for the same user with the same key: a re-run changes nothing.
    pub already_present: u64,
    /// Users created in the pool (`createMissingUsers`).
    pub users_created: u64,
    pub refused: Vec<LineRefusal>,
    /// Lines whose user the pool does not have (code `USER_NOT_FOUND`).
    pub users_not_found: Vec<LineRefusal>,
}

/// Longest credential id WebAuthn allows.
const MAX_CREDENTIAL_ID: usize = 1023;
/// Longest user handle WebAuthn allows.
const MAX_USER_HANDLE: usize = 64;
/// Most refusals listed in a report (the counts stay exact).
pub const MAX_LISTED: usize = 10_000;
const TRANSPORTS: [&str; 6] = ["usb", "nfc", "ble", "internal", "hybrid", "smart-card"];

/// A refused line: its code and message.
struct Refusal(&'static str, String);

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal(code, message.into())
}

/// A line, checked: everything but its user.
struct Checked {
    user: RecordUser,
    credential_id: Vec<u8>,
    key: webauthn_rs_core::proto::COSEKey,
    sign_count: u32,
    user_handle: Option<Vec<u8>>,
    transports: Vec<String>,
    aaguid: Option<Uuid>,
    backup_eligible: bool,
    backup_state: bool,
    created_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    nickname: Option<String>,
}

fn unb64(field: &'static str, code: &'static str, text: &str) -> Result<Vec<u8>, Refusal> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| refuse(code, format!("`{field}` is not base64url")))
}

fn time(field: &'static str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, Refusal> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| refuse("INVALID_TIME", format!("`{field}` is not an RFC 3339 time")))
    })
    .transpose()
}

/// Checks one line (its JSON, key, id, counters, flags, names), not yet its user.
fn check(text: &str) -> Result<Checked, Refusal> {
    let r: PasskeyRecord = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            refuse(
                "INVALID_RECORD",
                format!("the record does not match the format: {e}"),
            )
        } else {
            refuse("MALFORMED_LINE", "the line is not one JSON object")
        }
    })?;
    let named = [&r.user.sub, &r.user.username, &r.user.email]
        .iter()
        .filter(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
        .count();
    if named != 1 {
        return Err(refuse(
            "INVALID_USER",
            "`user` must give exactly one of `sub`, `username` or `email`",
        ));
    }
    let credential_id = unb64("credentialId", "INVALID_CREDENTIAL_ID", &r.credential_id)?;
    if credential_id.len() < 16 || credential_id.len() > MAX_CREDENTIAL_ID {
        return Err(refuse(
            "INVALID_CREDENTIAL_ID",
            format!(
                "a credential id is 16 to {MAX_CREDENTIAL_ID} bytes; this one is {}",
                credential_id.len()
            ),
        ));
    }
    let key_bytes = unb64("publicKey", "INVALID_PUBLIC_KEY", &r.public_key)?;
    let key = crate::cose::parse(&key_bytes).map_err(|e| match e {
        crate::cose::KeyError::Algorithm(_) => refuse("UNSUPPORTED_ALGORITHM", e.to_string()),
        other => refuse("INVALID_PUBLIC_KEY", other.to_string()),
    })?;
    let sign_count = u32::try_from(r.sign_count).map_err(|_| {
        refuse(
            "INVALID_SIGN_COUNT",
            "`signCount` must be a whole number from 0 to 4294967295",
        )
    })?;
    let user_handle = r
        .user_handle
        .as_deref()
        .map(|h| unb64("userHandle", "INVALID_USER_HANDLE", h))
        .transpose()?;
    if user_handle
        .as_ref()
        .is_some_and(|h| h.is_empty() || h.len() > MAX_USER_HANDLE)
    {
        return Err(refuse(
            "INVALID_USER_HANDLE",
            format!("a user handle is 1 to {MAX_USER_HANDLE} bytes"),
        ));
    }
    if let Some(t) = r
        .transports
        .iter()
        .find(|t| !TRANSPORTS.contains(&t.as_str()))
    {
        return Err(refuse(
            "INVALID_TRANSPORT",
            format!(
                "`{t}` is not a WebAuthn transport ({})",
                TRANSPORTS.join(", ")
            ),
        ));
    }
    let aaguid = r
        .aaguid
        .as_deref()
        .map(|a| {
            a.parse::<Uuid>()
                .map_err(|_| refuse("INVALID_AAGUID", "`aaguid` is not a UUID"))
        })
        .transpose()?
        .filter(|a| !a.is_nil());
    if r.backup_state && !r.backup_eligible {
        return Err(refuse(
            "BACKUP_FLAGS_INCONSISTENT",
            "`backupState` cannot be true when `backupEligible` is false",
        ));
    }
    let nickname = r
        .nickname
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if nickname
        .as_deref()
        .is_some_and(|n| n.chars().count() > 64 || n.chars().any(char::is_control))
    {
        return Err(refuse(
            "INVALID_NICKNAME",
            "`nickname` is at most 64 characters, without control characters",
        ));
    }
    Ok(Checked {
        user: r.user,
        credential_id,
        key,
        sign_count,
        user_handle,
        transports: r.transports,
        aaguid,
        backup_eligible: r.backup_eligible,
        backup_state: r.backup_state,
        created_at: time("createdAt", r.created_at.as_deref())?,
        last_used_at: time("lastUsedAt", r.last_used_at.as_deref())?,
        nickname,
    })
}

/// The webauthn-rs-core credential of an imported passkey: its key and flags, no
/// attestation (none was seen), user verification required as for every passkey here.
fn credential_of(c: &Checked) -> webauthn_rs_core::proto::Credential {
    use webauthn_rs_core::proto::{
        AttestationFormat, Credential, ParsedAttestation, RegisteredExtensions,
        UserVerificationPolicy,
    };
    Credential {
        cred_id: c.credential_id.clone(),
        cred: c.key.clone(),
        counter: c.sign_count,
        transports: None,
        user_verified: true,
        backup_eligible: c.backup_eligible,
        backup_state: c.backup_state,
        registration_policy: UserVerificationPolicy::Required,
        extensions: RegisteredExtensions::none(),
        attestation: ParsedAttestation::default(),
        attestation_format: AttestationFormat::None,
    }
}

/// What became of a line.
enum Outcome {
    Imported,
    AlreadyPresent,
    UserCreatedAndImported,
}

/// A running import: the state that spans lines (ids seen in the file, users resolved).
pub struct Importer<'s, 'a> {
    service: &'s AdminService<'a>,
    options: ImportOptions,
    seen: HashSet<Vec<u8>>,
    /// Users already resolved, by how the file names them.
    users: HashMap<String, (String, String)>,
    report: ImportReport,
}

impl<'a> AdminService<'a> {
    /// Starts an import; feed it lines with [`Importer::line`], then [`Importer::finish`].
    pub fn importer(&self, options: ImportOptions) -> Importer<'_, 'a> {
        Importer {
            service: self,
            options,
            seen: HashSet::new(),
            users: HashMap::new(),
            report: ImportReport {
                dry_run: options.dry_run,
                ..ImportReport::default()
            },
        }
    }
}

impl Importer<'_, '_> {
    /// Imports one line (1-based `number`), in a transaction of its own: a line is
    /// imported whole or not at all, and a re-run after a crash carries on. Errors are
    /// only the database's or Cognito's (the import stops: run it again); a bad line is
    /// reported, never an error.
    pub async fn line(&mut self, number: u64, text: &str) -> Result<(), AdminError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        self.report.lines += 1;
        let outcome = match check(text) {
            Err(refusal) => Err(refusal),
            Ok(checked) => self.store(checked).await?,
        };
        match outcome {
            Ok(Outcome::Imported) => self.report.imported += 1,
            Ok(Outcome::UserCreatedAndImported) => {
                self.report.imported += 1;
                self.report.users_created += 1;
            }
            Ok(Outcome::AlreadyPresent) => self.report.already_present += 1,
            Err(Refusal(code, message)) => {
                let list = if code == "USER_NOT_FOUND" {
                    &mut self.report.users_not_found
                } else {
                    &mut self.report.refused
                };
                if list.len() < MAX_LISTED {
                    list.push(LineRefusal {
                        line: number,
                        code: code.to_owned(),
                        message,
                    });
                }
            }
        }
        Ok(())
    }

    /// A line that is not one (not UTF-8, too long): refused with its number.
    pub fn unreadable(&mut self, number: u64, why: &str) {
        self.report.lines += 1;
        if self.report.refused.len() < MAX_LISTED {
            self.report.refused.push(LineRefusal {
                line: number,
                code: "MALFORMED_LINE".to_owned(),
                message: why.to_owned(),
            });
        }
    }

    /// Ends the import: audits `import.finished` with the counts (not in a dry run).
    pub async fn finish(self) -> Result<ImportReport, AdminError> {
        let s = self.service;
        if !self.options.dry_run {
            let r = &self.report;
            audit::record(
                s.db,
                s.site,
                s.now,
                Event::new(Actor::Admin(s.actor.to_owned()), Action::ImportFinished).details(
                    serde_json::json!({
                        "lines": r.lines, "imported": r.imported,
                        "alreadyPresent": r.already_present, "usersCreated": r.users_created,
                        "refused": r.refused.len(), "usersNotFound": r.users_not_found.len(),
                    }),
                ),
            )
            .await?;
        }
        Ok(self.report)
    }

    /// The line's user, resolved (and created when asked), then the passkey stored.
    async fn store(&mut self, c: Checked) -> Result<Result<Outcome, Refusal>, AdminError> {
        if !self.seen.insert(c.credential_id.clone()) {
            return Ok(Err(refuse(
                "DUPLICATE_IN_FILE",
                "an earlier line of the file has this credential id",
            )));
        }
        let (sub, username, created) = match self.user(&c.user).await? {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let s = self.service;
        // What is stored already decides: the same passkey of the same user is present;
        // anything else under this id is a conflict, never overwritten.
        if let Some(existing) =
            credentials::credential(s.db, self.service.site, &c.credential_id).await?
        {
            let owner = users::user_by_id(s.db, self.service.site, existing.user_id).await?;
            return Ok(
                if owner.is_some_and(|o| o.cognito_sub == sub) && existing.passkey.cred == c.key {
                    Ok(Outcome::AlreadyPresent)
                } else {
                    Err(refuse(
                        "CREDENTIAL_CONFLICT",
                        "this credential id is stored already, for another user or with another key",
                    ))
                },
            );
        }
        if self.options.dry_run {
            return Ok(Ok(if created {
                Outcome::UserCreatedAndImported
            } else {
                Outcome::Imported
            }));
        }
        let mut tx = s.db.begin().await?;
        let user = users::upsert_user(&mut tx, self.service.site, &sub, &username, s.now).await?;
        let max = s.max_passkeys as usize;
        if credentials::active_locked(&mut tx, user.id).await? >= max {
            return Ok(Err(refuse(
                "TOO_MANY_PASSKEYS",
                format!("the user has {max} passkeys already (RP_MAX_PASSKEYS_PER_USER)"),
            )));
        }
        let created_at = c.created_at.unwrap_or(s.now);
        let stored = StoredCredential {
            credential_id: c.credential_id.clone(),
            user_id: user.id,
            // Ours needs no copy: a usernameless sign-in then returns our handle.
            user_handle: c
                .user_handle
                .clone()
                .filter(|h| h.as_slice() != user.id.as_bytes()),
            passkey: credential_of(&c),
            nickname: c.nickname.clone(),
            aaguid: c.aaguid,
            sign_count: i64::from(c.sign_count),
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            transports: c.transports.clone(),
            user_verified: None,
            attested: false,
            metadata_description: None,
            metadata_status: None,
            created_at,
            last_used_at: c.last_used_at,
            revoked: None,
        };
        if let store::credentials::Inserted::Duplicate =
            credentials::insert_credential(&mut tx, self.service.site, &stored).await?
        {
            // Stored by someone else since the check above: report it as the check would.
            return Ok(Err(refuse(
                "CREDENTIAL_CONFLICT",
                "this credential id was stored meanwhile",
            )));
        }
        audit::record(
            &mut *tx,
            self.service.site,
            s.now,
            Event::new(Actor::Admin(s.actor.to_owned()), Action::CredentialImported)
                .user(user.id, &sub)
                .credential(&c.credential_id)
                .details(serde_json::json!({
                    "aaguid": c.aaguid,
                    "foreignUserHandle": stored.user_handle.is_some(),
                    "userCreated": created,
                })),
        )
        .await?;
        tx.commit().await?;
        if self.options.notify {
            let name = c
                .nickname
                .clone()
                .or_else(|| crate::authenticators::name(c.aaguid))
                .unwrap_or_else(|| "A passkey".to_owned());
            s.notify(&sub, crate::flows::notices::Notice::PasskeyAdded { name })
                .await;
        }
        Ok(Ok(if created {
            Outcome::UserCreatedAndImported
        } else {
            Outcome::Imported
        }))
    }

    /// The `(sub, username)` the line names, and whether it was created now: from
    /// rp-server's users, else the pool.
    async fn user(
        &mut self,
        named: &RecordUser,
    ) -> Result<Result<(String, String, bool), Refusal>, AdminError> {
        let s = self.service;
        let key = serde_json::to_string(named).unwrap_or_default();
        if let Some((sub, username)) = self.users.get(&key) {
            return Ok(Ok((sub.clone(), username.clone(), false)));
        }
        let not_found = |what: String| Ok(Err(refuse("USER_NOT_FOUND", what)));
        let found = if let Some(sub) = named.sub.as_deref() {
            match users::user_by_sub(s.db, self.service.site, sub).await? {
                Some(u) => Some((u.cognito_sub, u.username)),
                None => match s.cognito {
                    Some(pool) => pool.user_with_sub(sub).await?.map(|u| (u.sub, u.username)),
                    None => {
                        return not_found(format!(
                            "no user with sub {sub} is known here, and without RP_COGNITO_USER_POOL_ID the pool cannot be asked"
                        ));
                    }
                },
            }
        } else if let Some(username) = named.username.as_deref() {
            match users::user_by_username(s.db, self.service.site, username).await? {
                Some(u) => Some((u.cognito_sub, u.username)),
                None => match s.cognito {
                    Some(pool) => pool
                        .user_named(username)
                        .await?
                        .map(|u| (u.sub, u.username)),
                    None => {
                        return not_found(format!(
                            "no user named {username} is known here, and without RP_COGNITO_USER_POOL_ID the pool cannot be asked"
                        ));
                    }
                },
            }
        } else {
            let email = named.email.as_deref().unwrap_or_default();
            let Some(pool) = s.cognito else {
                return not_found(
                    "finding a user by email needs RP_COGNITO_USER_POOL_ID".to_owned(),
                );
            };
            let mut matches = pool.users_with_email(email, 2).await?;
            if matches.len() > 1 {
                return Ok(Err(refuse(
                    "AMBIGUOUS_USER",
                    "several users of the pool have this email; name the user by sub",
                )));
            }
            match matches.pop() {
                Some(u) => Some((u.sub, u.username)),
                None if self.options.create_missing_users => {
                    if self.options.dry_run {
                        return Ok(Ok((String::new(), email.to_owned(), true)));
                    }
                    let created = pool.create_user(email, false).await?;
                    self.users
                        .insert(key, (created.sub.clone(), created.username.clone()));
                    return Ok(Ok((created.sub, created.username, true)));
                }
                None => None,
            }
        };
        match found {
            Some((sub, username)) => {
                self.users.insert(key, (sub.clone(), username.clone()));
                Ok(Ok((sub, username, false)))
            }
            None => not_found("the pool has no such user".to_owned()),
        }
    }
}

/// Longest line an import reads (a passkey record is well under 4 KiB).
pub const MAX_LINE: usize = 64 * 1024;

/// Splits a byte stream into lines as it arrives, holding at most one line: each
/// complete line goes to the importer with its number; a line longer than [`MAX_LINE`]
/// or not UTF-8 is refused by number, and reading carries on after it.
pub struct Lines {
    buffer: Vec<u8>,
    number: u64,
    /// The current line is too long: skip to its end.
    skipping: bool,
}

impl Default for Lines {
    fn default() -> Self {
        Self::new()
    }
}

impl Lines {
    pub fn new() -> Self {
        Self {
            buffer: Vec::new(),
            number: 0,
            skipping: false,
        }
    }

    /// Feeds a chunk; imports every line it completes.
    pub async fn feed(
        &mut self,
        importer: &mut Importer<'_, '_>,
        mut chunk: &[u8],
    ) -> Result<(), AdminError> {
        while let Some(end) = chunk.iter().position(|b| *b == b'\n') {
            let (head, rest) = chunk.split_at(end);
            chunk = &rest[1..];
            if self.skipping {
                self.skipping = false;
                self.buffer.clear();
                continue;
            }
            self.buffer.extend_from_slice(head);
            self.number += 1;
            let line = std::mem::take(&mut self.buffer);
            self.one(importer, &line).await?;
        }
        if !self.skipping {
            self.buffer.extend_from_slice(chunk);
            if self.buffer.len() > MAX_LINE {
                self.number += 1;
                importer.unreadable(self.number, "the line is longer than 64 KiB");
                self.buffer.clear();
                self.skipping = true;
            }
        }
        Ok(())
    }

    /// The last line, when the input does not end with a newline.
    pub async fn finish(mut self, importer: &mut Importer<'_, '_>) -> Result<(), AdminError> {
        if !self.skipping && !self.buffer.is_empty() {
            self.number += 1;
            let line = std::mem::take(&mut self.buffer);
            self.one(importer, &line).await?;
        }
        Ok(())
    }

    async fn one(&self, importer: &mut Importer<'_, '_>, line: &[u8]) -> Result<(), AdminError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(text) => importer.line(self.number, text).await,
            Err(_) => {
                importer.unreadable(self.number, "the line is not UTF-8");
                Ok(())
            }
        }
    }
}

/// Rows the export reads per statement.
const EXPORT_CHUNK: i64 = 500;

/// Every active passkey (of `sub` only, when given) as import lines, in credential-id
/// order, read [`EXPORT_CHUNK`] at a time while the body is sent: public data only.
pub fn export(
    db: store::Db,
    site: crate::model::SiteId,
    sub: Option<String>,
) -> impl futures::Stream<Item = Result<Vec<u8>, AdminError>> + Send + 'static {
    futures::stream::try_unfold(
        (db, site, sub, None::<Vec<u8>>, false),
        |(db, site, sub, after, done)| async move {
            if done {
                return Ok(None);
            }
            let rows = credentials::active_for_export(
                &db,
                &site,
                sub.as_deref(),
                after.as_deref(),
                EXPORT_CHUNK,
            )
            .await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let done = (rows.len() as i64) < EXPORT_CHUNK;
            let next = rows.last().map(|(c, _)| c.credential_id.clone());
            let mut out = Vec::new();
            for (c, owner_sub) in &rows {
                if let Some(record) = record_of(c, owner_sub) {
                    serde_json::to_writer(&mut out, &record)
                        .map_err(|e| AdminError::Invalid(format!("export: {e}")))?;
                    out.push(b'\n');
                }
            }
            Ok(Some((out, (db, site, sub, next, done))))
        },
    )
}

/// A stored passkey as an export line.
fn record_of(c: &StoredCredential, sub: &str) -> Option<PasskeyRecord> {
    Some(PasskeyRecord {
        user: RecordUser {
            sub: Some(sub.to_owned()),
            ..RecordUser::default()
        },
        credential_id: b64(&c.credential_id),
        public_key: b64(&crate::cose::encode(&c.passkey.cred)?),
        sign_count: c.sign_count,
        user_handle: Some(b64(&c.handle())),
        transports: c.transports.clone(),
        aaguid: c.aaguid.map(|a| a.to_string()),
        backup_eligible: c.backup_eligible,
        backup_state: c.backup_state,
        created_at: Some(c.created_at.to_rfc3339()),
        last_used_at: c.last_used_at.map(|t| t.to_rfc3339()),
        nickname: c.nickname.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_refused_with_a_code_that_names_the_fault() {
        let good = serde_json::json!({
            "user": {"sub": "s"}, "credentialId": "AAAAAAAAAAAAAAAAAAAAAA",
            "publicKey": "pQECAyYgASFYIGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWIlggT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
            "signCount": 0, "backupEligible": true, "backupState": true,
        });
        assert!(check(&good.to_string()).is_ok());
        let with = |field: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[field] = value;
            check(&v.to_string()).err().map(|r| r.0)
        };
        assert_eq!(
            check("{not json").err().map(|r| r.0),
            Some("MALFORMED_LINE")
        );
        assert_eq!(with("extra", 1.into()), Some("INVALID_RECORD"));
        assert_eq!(
            with("user", serde_json::json!({"sub": "a", "email": "b"})),
            Some("INVALID_USER")
        );
        assert_eq!(with("user", serde_json::json!({})), Some("INVALID_USER"));
        assert_eq!(
            with("credentialId", "***".into()),
            Some("INVALID_CREDENTIAL_ID")
        );
        assert_eq!(
            with("credentialId", "AAAA".into()),
            Some("INVALID_CREDENTIAL_ID")
        );
        assert_eq!(with("publicKey", "AAAA".into()), Some("INVALID_PUBLIC_KEY"));
        assert_eq!(with("signCount", (-1).into()), Some("INVALID_SIGN_COUNT"));
        assert_eq!(
            with("signCount", 4_294_967_296_i64.into()),
            Some("INVALID_SIGN_COUNT")
        );
        assert_eq!(with("userHandle", "".into()), Some("INVALID_USER_HANDLE"));
        assert_eq!(
            with("transports", serde_json::json!(["carrier-pigeon"])),
            Some("INVALID_TRANSPORT")
        );
        assert_eq!(with("aaguid", "not-a-uuid".into()), Some("INVALID_AAGUID"));
        assert_eq!(
            with("backupEligible", false.into()),
            Some("BACKUP_FLAGS_INCONSISTENT")
        );
        assert_eq!(with("createdAt", "yesterday".into()), Some("INVALID_TIME"));
        assert_eq!(
            with("nickname", "x".repeat(65).into()),
            Some("INVALID_NICKNAME")
        );
    }
}
