//! The daemon's configuration: one TOML file. The documented default (`default.toml`, printed
//! by `edgepose config default`) is the single source of defaults: `Config::default()` is
//! that file parsed. Unknown keys and bad values fail at start-up with the key named and
//! where its value came from: the file and line, the `--set` flag, or the built-in default.
//!
//! `--set table.kind=...` switches a table's kind: the table is rebuilt from the new kind's
//! defaults plus the other `--set`s for it (kind switches apply first, whatever their order).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub mod check;
mod web;

pub use web::{HttpConfig, ImageFormat, RecorderConfig};

use crate::display::DisplayConfig;
use crate::infer::backend::{Allocator, BackendConfig};
use crate::sink::{JsonlConfig, MqttConfig, Ros2Config, SerialConfig};
use crate::source::SourceConfig;
use crate::track::TrackerConfig;
use crate::util::Size;

/// The complete, commented default configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// Most named cameras (`[sources.<name>]`) one daemon runs; each costs a capture, a decode
/// thread and its tracker, and the wire frame's camera index is one byte.
pub const MAX_CAMERAS: usize = 16;
/// Most inference workers (`model.workers`): more than a board's cores only adds memory.
pub const MAX_WORKERS: usize = 64;
/// Longest camera name: it becomes an MQTT topic level and a metrics label.
pub const MAX_CAMERA_NAME_LEN: usize = 32;
/// `frame_timeout_ms` when a source table leaves it out (v4l2's own default too).
pub const DEFAULT_FRAME_TIMEOUT_MS: u64 = 2000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: `{key}`: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
    #[error("--set {arg}: {message}")]
    Override { arg: String, message: String },
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    pub device_id: u32,
    pub max_frames: u64,
    pub stats_interval_s: f64,
    pub metrics_port: u16,
    pub metrics_bind: String,
    /// glibc allocator set-up, applied once at start (a reload does not change it).
    pub allocator: Allocator,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    /// "WxH" or "" for the card's default.
    pub input_size: String,
    /// Inference workers sharing the loaded model (0 = one per `backend.threads` cores).
    pub workers: usize,
    pub backend: BackendConfig,
    /// Test-time flip, overriding the model card's `[tta] flip` (absent: the card's).
    #[serde(default)]
    pub tta_flip: Option<bool>,
    /// Test-time scales, overriding the model card's `[tta] scales` (absent: the card's).
    #[serde(default)]
    pub tta_scales: Option<Vec<f32>>,
}

impl ModelConfig {
    /// The requested input size, `None` for the card's default.
    pub fn input_size(&self) -> Result<Option<Size>, String> {
        if self.input_size.trim().is_empty() {
            return Ok(None);
        }
        Size::parse(&self.input_size).map(Some)
    }

    /// Inference workers to start: `workers`, or for 0 the cores left after giving each
    /// worker `backend.threads` of them (at least 1).
    pub fn workers(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / self.backend.threads.max(1)).clamp(1, MAX_WORKERS)
    }
}

/// One camera of the daemon: the single `[source]` (no name) or a `[sources.<name>]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraConfig {
    /// `None` for the single `[source]`.
    pub name: Option<String>,
    pub source: SourceConfig,
    /// A source asked for a frame that delivers nothing for this long counts as stalled
    /// (`frame_timeout_ms`, any kind; zero = never).
    pub frame_timeout: Duration,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksConfig {
    pub jsonl: Option<JsonlConfig>,
    pub serial: Option<SerialConfig>,
    pub mqtt: Option<MqttConfig>,
    pub ros2: Option<Ros2Config>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub daemon: DaemonConfig,
    /// The single camera; unused when `sources` names cameras.
    pub source: SourceConfig,
    /// Named cameras (`[sources.front]`, `[sources.rear]`), in the alphabetical order of their
    /// names (which gives their wire camera index).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// `frame_timeout_ms` of each source table (key "" for `[source]`), taken out before
    /// the kind-specific tables are read.
    #[serde(skip)]
    pub frame_timeouts_ms: BTreeMap<String, u64>,
    pub model: ModelConfig,
    pub tracker: TrackerConfig,
    #[serde(default)]
    pub sinks: SinksConfig,
    #[serde(default)]
    pub display: DisplayConfig,
    pub http: HttpConfig,
    pub recorder: RecorderConfig,
}

impl Default for Config {
    fn default() -> Self {
        // The embedded default is checked by the tests; failing here would be a build defect.
        match Config::parse(DEFAULT_TOML, "built-in default", &[]) {
            Ok(c) => c,
            Err(e) => panic!("the built-in default configuration is invalid: {e}"),
        }
    }
}

impl Config {
    /// Loads `path` (or the built-in default when `None`) with `--set key=value` overrides.
    /// Keys the file leaves out keep their default values.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        match path {
            None => Config::parse("", "built-in default", overrides),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                Config::parse(&text, &p.display().to_string(), overrides)
            }
        }
    }

    /// Parses `text` layered over the default, applies overrides, validates.
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Config, ConfigError> {
        let parse_err = |e: toml::de::Error| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim().to_owned(),
        };
        let mut base: toml::Table = toml::from_str(DEFAULT_TOML).map_err(parse_err)?;
        let mut user: toml::Table = toml::from_str(text).map_err(parse_err)?;
        let mut origins = Origins::of_file(text, origin);
        if user.contains_key("source") && user.contains_key("sources") {
            return Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                key: "sources".into(),
                message: "use either one [source] or named [sources.<name>] tables, not both"
                    .into(),
            });
        }
        // The sinks a file lists are the sinks it gets: a file with a [sinks] table replaces
        // the default's (which prints JSON lines to stdout) instead of adding to it.
        if let Some(sinks) = user.remove("sinks") {
            base.insert("sinks".into(), sinks);
        }
        merge(&mut base, user);
        // Kind switches first, so that `--set source.path=..` given before
        // `--set source.kind=images` lands in the rebuilt table.
        let (kinds, others): (Vec<&String>, Vec<&String>) = overrides.iter().partition(|a| {
            a.split_once('=')
                .is_some_and(|(k, _)| k.trim().ends_with(".kind"))
        });
        for arg in kinds.into_iter().chain(others) {
            apply_override(&mut base, arg, &mut origins)?;
        }
        let frame_timeouts_ms =
            take_frame_timeouts(&mut base).map_err(|(key, message)| ConfigError::Invalid {
                origin: origins.of(&key),
                key,
                message,
            })?;
        // Deserialise from text, not from the table: errors then carry a position, which
        // names the key and, through `origins`, where its value came from.
        let merged = toml::to_string(&base).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        let mut config: Config =
            toml::from_str(&merged).map_err(|e| origins.explain(&base, &merged, &e))?;
        config.frame_timeouts_ms = frame_timeouts_ms;
        config.validate(&origins)?;
        Ok(config)
    }

    /// The cameras to run: the named `[sources.<name>]` in name order, else the single
    /// `[source]`.
    pub fn cameras(&self) -> Vec<CameraConfig> {
        let timeout = |key: &str| {
            Duration::from_millis(
                self.frame_timeouts_ms
                    .get(key)
                    .copied()
                    .unwrap_or(DEFAULT_FRAME_TIMEOUT_MS),
            )
        };
        if self.sources.is_empty() {
            return vec![CameraConfig {
                name: None,
                source: self.source.clone(),
                frame_timeout: timeout(""),
            }];
        }
        self.sources
            .iter()
            .map(|(name, source)| CameraConfig {
                name: Some(name.clone()),
                source: source.clone(),
                frame_timeout: timeout(name),
            })
            .collect()
    }

    fn validate(&self, origins: &Origins) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            origin: origins.of(key),
            key: key.to_owned(),
            message,
        };
        if self.model.name.trim().is_empty() {
            return Err(invalid("model.name", "must name a model".into()));
        }
        self.model
            .input_size()
            .map_err(|m| invalid("model.input_size", m))?;
        if self.model.workers > MAX_WORKERS {
            return Err(invalid(
                "model.workers",
                format!("at most {MAX_WORKERS} (0 = one per backend.threads cores)"),
            ));
        }
        if self.sources.len() > MAX_CAMERAS {
            return Err(invalid(
                "sources",
                format!("at most {MAX_CAMERAS} named cameras"),
            ));
        }
        for name in self.sources.keys() {
            let ok = !name.is_empty()
                && name.len() <= MAX_CAMERA_NAME_LEN
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(invalid(
                    &format!("sources.{name}"),
                    format!(
                        "a camera name is 1 to {MAX_CAMERA_NAME_LEN} letters, digits, '_' or \
                         '-' (it becomes an MQTT topic level)"
                    ),
                ));
            }
        }
        if self.model.backend.threads == 0 {
            return Err(invalid(
                "model.backend.threads",
                "must be at least 1".into(),
            ));
        }
        if !(self.daemon.stats_interval_s.is_finite() && self.daemon.stats_interval_s >= 0.0) {
            return Err(invalid(
                "daemon.stats_interval_s",
                "must be a number ≥ 0".into(),
            ));
        }
        if self.daemon.metrics_port != 0
            && self
                .daemon
                .metrics_bind
                .parse::<std::net::IpAddr>()
                .is_err()
        {
            return Err(invalid(
                "daemon.metrics_bind",
                format!("'{}' is not an IP address", self.daemon.metrics_bind),
            ));
        }
        self.http.validate().map_err(|m| {
            let key = format!("http.{}", m.split(':').next().unwrap_or_default());
            invalid(&key, m)
        })?;
        self.recorder.validate().map_err(|m| {
            let key = format!("recorder.{}", m.split(':').next().unwrap_or_default());
            invalid(&key, m)
        })?;
        self.tracker
            .validate()
            .map_err(|e| invalid("tracker", e.to_string()))?;
        for camera in self.cameras() {
            let table = camera
                .name
                .as_ref()
                .map_or("source".to_owned(), |n| format!("sources.{n}"));
            if let SourceConfig::Synthetic(s) = &camera.source {
                if s.width == 0 || s.height == 0 {
                    return Err(invalid(
                        &format!("{table}.width"),
                        "width and height must be > 0".into(),
                    ));
                }
                if !(s.fps.is_finite() && s.fps > 0.0) {
                    return Err(invalid(&format!("{table}.fps"), "must be > 0".into()));
                }
            }
        }
        if let SourceConfig::Command(c) = &self.source {
            if c.command.is_empty() {
                return Err(invalid(
                    "source.command",
                    "must name the program and its arguments".into(),
                ));
            }
            c.size().map_err(|m| invalid("source.width", m))?;
        }
        if let SourceConfig::Stream(c) = &self.source {
            c.validate().map_err(|m| invalid("source.url", m))?;
        }
        if let Some(serial) = &self.sinks.serial {
            if serial.device.trim().is_empty() {
                return Err(invalid(
                    "sinks.serial.device",
                    "must name a serial port".into(),
                ));
            }
        }
        if let Some(mqtt) = &self.sinks.mqtt {
            mqtt.validate()
                .map_err(|e| invalid("sinks.mqtt", e.to_string()))?;
        }
        if let Some(ros2) = &self.sinks.ros2 {
            ros2.validate()
                .map_err(|e| invalid("sinks.ros2", e.to_string()))?;
        }
        self.display
            .validate()
            .map_err(|e| invalid("display", e.to_string()))?;
        Ok(())
    }
}

/// Takes `frame_timeout_ms` out of `[source]` and every `[sources.<name>]` (key "" and
/// `<name>`): it applies to every kind, but only V4L2's table has the field itself (there it
/// stays, so the camera's own read timeout is the same value). Errors name the key.
fn take_frame_timeouts(base: &mut toml::Table) -> Result<BTreeMap<String, u64>, (String, String)> {
    const KEY: &str = "frame_timeout_ms";
    let mut out = BTreeMap::new();
    let mut take = |table: &mut toml::Table, name: &str, path: String| {
        let is_v4l2 = table.get("kind").and_then(|k| k.as_str()) == Some("v4l2");
        let value = if is_v4l2 {
            table.get(KEY).cloned()
        } else {
            table.remove(KEY)
        };
        if let Some(v) = value {
            let ms = v
                .as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| {
                    (
                        path,
                        "must be a whole number of milliseconds ≥ 0".to_owned(),
                    )
                })?;
            out.insert(name.to_owned(), ms);
        }
        Ok::<(), (String, String)>(())
    };
    if let Some(toml::Value::Table(t)) = base.get_mut("source") {
        take(t, "", format!("source.{KEY}"))?;
    }
    if let Some(toml::Value::Table(sources)) = base.get_mut("sources") {
        for (name, t) in sources.iter_mut() {
            if let toml::Value::Table(t) = t {
                take(t, name, format!("sources.{name}.{KEY}"))?;
            }
        }
    }
    Ok(out)
}

/// Deep-merges `over` into `base`: tables merge key by key. A table with a different `kind`
/// (source, display) replaces the default one, so defaults of one kind never leak into another.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                let kind_changed = o.get("kind").is_some_and(|ok| b.get("kind") != Some(ok));
                if kind_changed {
                    *b = o;
                } else {
                    merge(b, o);
                }
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Where each key's value came from: `file:line` or `--set key=value`; keys not listed come
/// from the built-in default.
#[derive(Debug, Default)]
struct Origins {
    by_key: BTreeMap<String, String>,
}

/// Origin of values nobody set.
const DEFAULT_ORIGIN: &str = "built-in default";

impl Origins {
    /// Records the line of every key set in `text` (a TOML file read from `origin`).
    fn of_file(text: &str, origin: &str) -> Origins {
        let mut by_key = BTreeMap::new();
        let mut table = String::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            let at = format!("{origin}:{}", i + 1);
            if let Some(header) = line.strip_prefix('[') {
                let name = header.trim_start_matches('[');
                let name = name.split(']').next().unwrap_or("");
                table = unquote_path(name);
                by_key.entry(table.clone()).or_insert(at);
            } else if let Some((key, _)) = line.split_once('=') {
                if line.starts_with('#') {
                    continue;
                }
                let key = unquote_path(key);
                let full = if table.is_empty() {
                    key
                } else {
                    format!("{table}.{key}")
                };
                by_key.entry(full).or_insert(at);
            }
        }
        Origins { by_key }
    }

    /// Where `key`'s value came from: its own entry, else its closest table's.
    fn of(&self, key: &str) -> String {
        let mut k = key;
        loop {
            if let Some(o) = self.by_key.get(k) {
                return o.clone();
            }
            match k.rsplit_once('.') {
                Some((parent, _)) => k = parent,
                None => return DEFAULT_ORIGIN.to_owned(),
            }
        }
    }

    /// A `table.kind` switch rebuilt `table`: what was recorded under it is gone.
    fn forget_table(&mut self, table: &str) {
        let prefix = format!("{table}.");
        self.by_key.retain(|k, _| !k.starts_with(&prefix));
    }

    /// Turns a deserialisation error of `merged` (the final configuration as TOML text) into
    /// one naming the key and where its value came from.
    fn explain(&self, base: &toml::Table, merged: &str, e: &toml::de::Error) -> ConfigError {
        let mut message = e.message().trim().to_owned();
        let key = e.span().and_then(|span| key_at(merged, span.start));
        let Some(mut key) = key else {
            return ConfigError::Parse {
                origin: "configuration".into(),
                message,
            };
        };
        if let Some((k, m)) = field_of_kind_table(base, &key) {
            (key, message) = (k, m);
        }
        // "unknown field `fps`" points at the table; name the field itself.
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
        {
            if !key.ends_with(&format!(".{field}")) && key != field {
                key = format!("{key}.{field}");
            }
        }
        ConfigError::Invalid {
            origin: self.of(&key),
            key,
            message,
        }
    }
}

/// serde reports errors inside a table with a `kind` tag (source, display) without the field;
/// deserialising the kind's own settings finds it: `(table.field, message)`.
fn field_of_kind_table(base: &toml::Table, table: &str) -> Option<(String, String)> {
    use crate::display;
    use crate::source;
    let mut t = base;
    for part in table.split('.') {
        t = t.get(part)?.as_table()?;
    }
    let kind = t.get("kind")?.as_str()?;
    // `[sources.<name>]` tables are sources too.
    let group = if table.starts_with("sources.") {
        "source"
    } else {
        table
    };
    let mut fields = t.clone();
    fields.remove("kind");
    let text = toml::to_string(&fields).ok()?;
    let err = match (group, kind) {
        ("source", "images") => toml::from_str::<source::images::ImagesConfig>(&text).err(),
        ("source", "video") => toml::from_str::<source::video::VideoConfig>(&text).err(),
        ("source", "synthetic") => {
            toml::from_str::<source::synthetic::SyntheticConfig>(&text).err()
        }
        ("source", "v4l2") => toml::from_str::<source::v4l2_config::V4l2Config>(&text).err(),
        ("source", "command") => toml::from_str::<source::command::CommandConfig>(&text).err(),
        ("source", "stream") => toml::from_str::<source::stream::StreamConfig>(&text).err(),
        ("display", "png") => toml::from_str::<display::PngConfig>(&text).err(),
        ("display", "ssd1306") => toml::from_str::<display::Ssd1306Config>(&text).err(),
        ("display", "st7789") => toml::from_str::<display::St7789Config>(&text).err(),
        _ => None,
    }?;
    let message = err.message().trim().to_owned();
    let field = key_at(&text, err.span()?.start)?;
    Some((format!("{table}.{field}"), message))
}

/// `a."b c".d` → `a.b c.d` (quotes dropped; good enough to match keys).
fn unquote_path(s: &str) -> String {
    s.split('.')
        .map(|p| p.trim().trim_matches('"').trim_matches('\''))
        .collect::<Vec<_>>()
        .join(".")
}

/// The dotted key at byte `offset` of a TOML text written by `toml::to_string` (one
/// `key = value` per line under `[table]` headers).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let mut table = String::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let end = pos + line.len();
        let t = line.trim();
        let is_header = t.starts_with('[');
        if is_header {
            table = unquote_path(t.trim_start_matches('[').split(']').next().unwrap_or(""));
        }
        if offset < end {
            if is_header {
                return Some(table);
            }
            let key = unquote_path(t.split_once('=')?.0);
            return Some(if table.is_empty() {
                key
            } else {
                format!("{table}.{key}")
            });
        }
        pos = end;
    }
    None
}

/// Applies `section.key=value`; the value is read as TOML (number, bool, string, array), and
/// as a plain string when it is not valid TOML. Setting `section.kind` to another kind
/// rebuilds the table from that kind's defaults.
fn apply_override(
    base: &mut toml::Table,
    arg: &str,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    let err = |m: &str| ConfigError::Override {
        arg: arg.to_owned(),
        message: m.to_owned(),
    };
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| err("expected key=value"))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(err("empty key"));
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let (last, parents) = path.split_last().ok_or_else(|| err("empty key"))?;
    let mut table = base;
    for p in parents {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| err(&format!("`{p}` is not a table")))?;
    }
    let switches_kind = *last == "kind" && table.get("kind").is_some_and(|k| *k != value);
    if switches_kind {
        // Another kind: none of the old kind's keys apply (serde fills the new one's defaults).
        table.clear();
        origins.forget_table(&parents.join("."));
    }
    let mut over = toml::Table::new();
    over.insert(last.to_string(), value);
    merge(table, over);
    origins
        .by_key
        .insert(path.join("."), format!("--set {}", arg.trim()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_default_parses_and_matches_component_defaults() {
        let c = Config::default();
        assert_eq!(c.model.name, crate::infer::model::DEFAULT_MODEL);
        assert_eq!(c.tracker, TrackerConfig::default());
        assert_eq!(
            c.source,
            SourceConfig::Synthetic(crate::source::synthetic::SyntheticConfig::default())
        );
        assert_eq!(c.display, DisplayConfig::None);
        assert_eq!(c.sinks.jsonl, Some(JsonlConfig::default()));
        assert_eq!(c.model.backend.threads, BackendConfig::default().threads);
        assert!(!c.http.enabled, "the web server is opt-in");
        assert_eq!(c.http.bind, "127.0.0.1:8080");
    }

    #[test]
    fn the_allocator_defaults_to_glibc_and_lean_is_chosen_by_name() {
        assert_eq!(Config::default().daemon.allocator, Allocator::Glibc);
        let c = Config::parse("[daemon]\nallocator = \"lean\"\n", "t", &[]).unwrap();
        assert_eq!(c.daemon.allocator, Allocator::Lean);
        let e = Config::parse("", "t", &["daemon.allocator=\"fast\"".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("allocator"), "{e}");
    }

    #[test]
    fn http_values_are_checked_with_the_key_named() {
        let e = Config::parse("[http]\nenabled = true\nbind = \"8080\"\n", "t", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.bind"), "{e}");
        let e = Config::parse("", "t", &["http.stream_max_fps=0".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.stream_max_fps"), "{e}");
    }

    #[test]
    fn the_commented_examples_in_the_default_parse_too() {
        // Uncomment the commented-out example tables (serial, mqtt, smoothing): each starts
        // with a `# [table]` line and runs to the next blank line.
        let mut in_block = false;
        let text: String = DEFAULT_TOML
            .lines()
            .map(|l| {
                if l.starts_with("# [") {
                    in_block = true;
                } else if l.trim().is_empty() {
                    in_block = false;
                }
                if in_block {
                    let body = l.trim_start_matches("# ");
                    body.split("  #").next().unwrap_or("").to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c =
            Config::parse(&text, "uncommented default", &[]).expect("uncommented examples parse");
        assert_eq!(c.sinks.serial.as_ref().map(|s| s.baud), Some(115_200));
        assert_eq!(
            c.sinks.mqtt.as_ref().map(|m| m.device.as_str()),
            Some("edgepose")
        );
        assert!(c.tracker.smoothing.is_some());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = Config::parse("[model]\nnmae = \"x\"\n", "t.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("nmae") && e.contains("t.toml"), "{e}");
        let e = Config::parse("[model.backend]\nthreads = 0\n", "t.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("model.backend.threads"), "{e}");
        let e = Config::parse("[tracker]\nmax_missed = \"many\"\n", "t.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_missed"), "{e}");
        let e = Config::parse("[model]\ninput_size = \"big\"\n", "t.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("model.input_size"), "{e}");
    }

    #[test]
    fn a_sinks_table_replaces_the_default_sinks() {
        let c = Config::parse("[sinks.serial]\ndevice = \"/dev/ttyUSB0\"\n", "t", &[]).expect("ok");
        assert!(
            c.sinks.jsonl.is_none(),
            "no stdout JSON when the file lists its sinks"
        );
        assert!(c.sinks.serial.is_some());
        let c = Config::parse("[sinks]\n", "t", &[]).expect("ok");
        assert!(c.sinks.jsonl.is_none() && c.sinks.serial.is_none() && c.sinks.mqtt.is_none());
        let c = Config::parse("[tracker]\nmax_missed = 5\n", "t", &[]).expect("ok");
        assert!(
            c.sinks.jsonl.is_some(),
            "files without [sinks] keep the default"
        );
    }

    #[test]
    fn overrides_and_kind_switches() {
        let c = Config::parse(
            "",
            "t",
            &[
                "model.backend.threads=2".into(),
                "daemon.max_frames=10".into(),
            ],
        )
        .expect("ok");
        assert_eq!(c.model.backend.threads, 2);
        assert_eq!(c.daemon.max_frames, 10);
        // Switching the source kind drops the synthetic defaults instead of leaking them.
        let c = Config::parse(
            "[source]\nkind = \"images\"\npath = \"a/*.jpg\"\n",
            "t",
            &[],
        )
        .expect("ok");
        assert!(matches!(c.source, SourceConfig::Images(_)));
        let e = Config::parse("", "t", &["daemon.max_frames=-3".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_frames"), "{e}");
        assert!(Config::parse("", "t", &["nokey".into()]).is_err());
    }

    #[test]
    fn set_switches_a_tables_kind_in_any_order() {
        for order in [
            ["source.kind=images", "source.path=\"frames/\""],
            ["source.path=\"frames/\"", "source.kind=images"],
        ] {
            let sets: Vec<String> = order.iter().map(|s| s.to_string()).collect();
            let c = Config::parse("", "built-in default", &sets).expect("kind switch");
            let SourceConfig::Images(i) = &c.source else {
                panic!("{:?}", c.source)
            };
            assert_eq!(i.path, "frames/");
        }
        // A file's source switched back to synthetic by --set gets the synthetic defaults.
        let c = Config::parse(
            "[source]\nkind = \"images\"\npath = \"a.jpg\"\n",
            "f.toml",
            &["source.kind=synthetic".into()],
        )
        .expect("switch back");
        assert_eq!(
            c.source,
            SourceConfig::Synthetic(crate::source::synthetic::SyntheticConfig::default())
        );
    }

    #[test]
    fn errors_name_where_the_value_came_from() {
        // A bad value in a file: file and line, and the key.
        let e = Config::parse("# c\n[source]\nfps = \"fast\"\n", "cam.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cam.toml:3: `source.fps`"), "{e}");
        // A key the new kind does not have, from --set: the flag, not the default.
        let e = Config::parse(
            "",
            "built-in default",
            &[
                "source.kind=images".into(),
                "source.path=x".into(),
                "source.fps=5".into(),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("--set source.fps=5: `source.fps`"), "{e}");
        assert!(e.contains("unknown field"), "{e}");
        // A value validated after parsing: the flag again.
        let e = Config::parse("", "built-in default", &["model.backend.threads=0".into()])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--set model.backend.threads=0"), "{e}");
        // The same key from a file names the file's line.
        let e = Config::parse("[model.backend]\n\nthreads = 0\n", "b.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("b.toml:3: `model.backend.threads`"), "{e}");
    }
}
