//! Layering: the optional config file (`RP_CONFIG_FILE`, TOML), then the environment on
//! top, merged by figment into [`Settings`]. Each value remembers where it came from, for
//! `rp-server config` and for errors.
//!
//! figment does the merging and typed extraction (with the key of a bad value in its
//! error); the environment is read by our own provider because figment's parses every
//! variable as a value, which would turn a token of digits into a number.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format as _, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::settings::{self, KEYS, Kind, Settings, env_var};
use super::{ConfigError, bad};
use crate::model::SiteId;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Environment(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Environment(var) => write!(f, "environment {var}"),
        }
    }
}

/// The settings of one start, and where each came from.
#[derive(Debug)]
pub struct Layered {
    pub settings: Settings,
    sources: BTreeMap<&'static str, Source>,
    /// The layers merged, beneath which `[[site]]` tables are laid.
    figment: Figment,
    file: Option<PathBuf>,
}

/// The variable of the `[[site]]` tables (a JSON array in the environment).
const SITE_VAR: &str = "RP_SITE";

/// The variable that names the config file.
pub const CONFIG_FILE_VAR: &str = "RP_CONFIG_FILE";

impl Layered {
    /// Reads the process's environment and the file it names (or `file`, given on the
    /// command line).
    pub fn from_process(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self::load(file, &env)
    }

    /// The file (`file`, else `RP_CONFIG_FILE` in `env`), then `env` on top.
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| settings::text(&env.get(CONFIG_FILE_VAR).cloned()).map(PathBuf::from));
        let mut figment = Figment::new();
        let mut from_file = Dict::new();
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                bad(
                    CONFIG_FILE_VAR,
                    format!("cannot read {} ({e})", path.display()),
                )
            })?;
            let toml = Toml::string(&text);
            from_file = toml
                .data()
                .map_err(|e| {
                    bad(
                        CONFIG_FILE_VAR,
                        format!("{} is not valid TOML: {e}", path.display()),
                    )
                })?
                .remove(&Profile::Default)
                .unwrap_or_default();
            figment = figment.merge(toml);
        }
        let environment = Environment::read(env);
        figment = figment.merge(&environment);
        let settings: Settings = figment
            .extract()
            .map_err(|e| explain(&e, file.as_deref()))?;
        let figment = figment;
        let sources = KEYS
            .iter()
            .map(|k| {
                let source = if environment.0.contains_key(k.name) {
                    Source::Environment(env_var(k.name))
                } else if let (Some(path), true) = (&file, from_file.contains_key(k.name)) {
                    Source::File(path.clone())
                } else {
                    Source::Default
                };
                (k.name, source)
            })
            .collect();
        Ok(Self {
            settings,
            sources,
            figment,
            file,
        })
    }

    /// The settings of each `[[site]]` table, in file order: the top level (the file's,
    /// the environment on top) with the table's own keys on top of both. No tables: none.
    /// A table needs a unique `id` and may not set a process-wide key.
    pub fn site_settings(&self) -> Result<Vec<(SiteId, Settings)>, ConfigError> {
        let mut sites: Vec<(SiteId, Settings)> = Vec::new();
        for (n, table) in self.settings.site.iter().enumerate() {
            let id = match table.get("id").and_then(Value::as_str) {
                Some(id) => SiteId::parse(id).map_err(|e| bad(SITE_VAR, e))?,
                None => {
                    return Err(bad(
                        SITE_VAR,
                        format!("[[site]] table {} has no `id`", n + 1),
                    ));
                }
            };
            if sites.iter().any(|(other, _)| other == &id) {
                return Err(bad(
                    SITE_VAR,
                    format!("two [[site]] tables have the id {id}"),
                ));
            }
            let mut table = table.clone();
            table.remove("id");
            let own_admin_tokens = table.contains_key("admin_tokens");
            if let Some(key) = table
                .keys()
                .find(|k| super::sites::PROCESS_WIDE.contains(&k.as_str()))
            {
                return Err(bad(
                    SITE_VAR,
                    format!("site {id}: `{key}` is process-wide; set it at the top of the file"),
                ));
            }
            let mut settings: Settings = self
                .figment
                .clone()
                .merge(figment::providers::Serialized::defaults(table))
                .extract()
                .map_err(|e| {
                    let inner = explain(&e, self.file.as_deref());
                    bad(SITE_VAR, format!("site {id}: {inner}"))
                })?;
            // Top-level admin tokens are global: a site's own come beside them, never
            // instead of them.
            if own_admin_tokens {
                let own = std::mem::take(&mut settings.admin_tokens);
                settings.admin_tokens = self
                    .settings
                    .admin_tokens
                    .iter()
                    .cloned()
                    .chain(own)
                    .collect();
            }
            sites.push((id, settings));
        }
        Ok(sites)
    }

    /// Where `key`'s value came from.
    pub fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// Every setting with its value (secrets only say "set") and where it came from;
    /// the output of `rp-server config`.
    pub fn describe(&self) -> String {
        // `Settings` serialises with its secrets redacted (settings.rs).
        let values = match serde_json::to_value(&self.settings) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let mut out = String::new();
        for key in KEYS {
            let value = match values.get(key.name) {
                None | Some(serde_json::Value::Null) => "(unset)".to_owned(),
                Some(serde_json::Value::Array(a)) if a.is_empty() => "(unset)".to_owned(),
                Some(serde_json::Value::String(v)) if key.kind == Kind::Secret => v.clone(),
                Some(v) => v.to_string(),
            };
            let source = self.source(key.name);
            out.push_str(&format!("{:<26} {value:<40} # {source}\n", key.name));
        }
        out
    }
}

/// A figment error as a [`ConfigError`] that names the setting both ways.
fn explain(e: &figment::Error, file: Option<&Path>) -> ConfigError {
    let Some(key) = e.path.first() else {
        return bad(CONFIG_FILE_VAR, e.kind.to_string());
    };
    let from = match &e.metadata {
        Some(m) if m.name == ENVIRONMENT => format!("environment {}", env_var(key)),
        _ => file.map_or_else(
            || "config file".to_owned(),
            |p| format!("file {}", p.display()),
        ),
    };
    match settings::KEYS.iter().find(|k| k.name == key) {
        Some(k) => bad_key(k.name, format!("{} (from {from})", e.kind)),
        None => bad(
            CONFIG_FILE_VAR,
            format!("unknown setting `{key}` (in {from})"),
        ),
    }
}

/// A [`ConfigError`] for a setting known by its file key.
fn bad_key(key: &str, reason: String) -> ConfigError {
    bad(env_var(key), format!("{reason} (file key `{key}`)"))
}

const ENVIRONMENT: &str = "environment variable";

/// The known `RP_*` variables (and `DATABASE_URL`) as figment values, each read as its
/// kind says: lists split at commas, numbers and booleans parsed, text as it is.
struct Environment(Dict);

impl Environment {
    fn read(env: &BTreeMap<String, String>) -> Self {
        let mut dict = Dict::new();
        for (var, raw) in env {
            let Some(key) = settings::key_of_env(var) else {
                continue;
            };
            let value = match key.kind {
                Kind::Text | Kind::Secret => Value::from(raw.clone()),
                Kind::List => Value::from(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| Value::from(v.to_owned()))
                        .collect::<Vec<_>>(),
                ),
                Kind::Number => match raw.trim().parse::<u64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::from(raw.clone()),
                },
                Kind::Bool => match raw.trim() {
                    "true" | "on" => Value::from(true),
                    "false" | "off" => Value::from(false),
                    _ => Value::from(raw.clone()),
                },
                // Not JSON: left as text, so the error names the variable.
                Kind::Json => serde_json::from_str::<serde_json::Value>(raw)
                    .ok()
                    .and_then(|v| Value::serialize(v).ok())
                    .unwrap_or_else(|| Value::from(raw.clone())),
            };
            // An empty variable is as good as unset, as it always was.
            if matches!(
                key.kind,
                Kind::Text | Kind::Number | Kind::Bool | Kind::Json
            ) && raw.trim().is_empty()
            {
                continue;
            }
            dict.insert(key.name.to_owned(), value);
        }
        Self(dict)
    }
}

impl Provider for &Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENVIRONMENT)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}
