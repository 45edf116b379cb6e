//! The daemon's configuration: one TOML file. The documented default (`default.toml`, printed
//! by `edgepose config default`) is the single source of defaults: `Config::default()` is
//! that file parsed. Unknown keys and bad values fail at start-up with the key named.

use std::path::Path;

use serde::Deserialize;

use crate::backend::BackendConfig;
use crate::display::DisplayConfig;
use crate::http::HttpConfig;
use crate::recorder::RecorderConfig;
use crate::sink::{JsonlConfig, MqttConfig, SerialConfig};
use crate::source::SourceConfig;
use crate::track::TrackerConfig;

/// The complete, commented default configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

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
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    /// "WxH" or "" for the card's default.
    pub input_size: String,
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
    pub fn input_size(&self) -> Result<Option<(u32, u32)>, String> {
        if self.input_size.trim().is_empty() {
            return Ok(None);
        }
        crate::cli::detect::parse_size(&self.input_size).map(Some)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksConfig {
    pub jsonl: Option<JsonlConfig>,
    pub serial: Option<SerialConfig>,
    pub mqtt: Option<MqttConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub source: SourceConfig,
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
            message: e.to_string(),
        };
        let mut base: toml::Table = toml::from_str(DEFAULT_TOML).map_err(parse_err)?;
        let mut user: toml::Table = toml::from_str(text).map_err(parse_err)?;
        // The sinks a file lists are the sinks it gets: a file with a [sinks] table replaces
        // the default's (which prints JSON lines to stdout) instead of adding to it.
        if let Some(sinks) = user.remove("sinks") {
            base.insert("sinks".into(), sinks);
        }
        merge(&mut base, user);
        for arg in overrides {
            apply_override(&mut base, arg)?;
        }
        let config: Config =
            Config::deserialize(toml::Value::Table(base)).map_err(|e| ConfigError::Parse {
                origin: origin.to_owned(),
                message: e.to_string().trim().to_owned(),
            })?;
        config.validate(origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            key: key.to_owned(),
            message,
        };
        if self.model.name.trim().is_empty() {
            return Err(invalid("model.name", "must name a model".into()));
        }
        self.model
            .input_size()
            .map_err(|m| invalid("model.input_size", m))?;
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
        if let SourceConfig::Synthetic(s) = &self.source {
            if s.width == 0 || s.height == 0 {
                return Err(invalid(
                    "source.width",
                    "width and height must be > 0".into(),
                ));
            }
            if !(s.fps.is_finite() && s.fps > 0.0) {
                return Err(invalid("source.fps", "must be > 0".into()));
            }
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
        self.display
            .validate()
            .map_err(|e| invalid("display", e.to_string()))?;
        Ok(())
    }
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

/// Applies `section.key=value`; the value is read as TOML (number, bool, string, array), and
/// as a plain string when it is not valid TOML.
fn apply_override(base: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
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
    let mut over = toml::Table::new();
    over.insert(last.to_string(), value);
    merge(table, over);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_default_parses_and_matches_component_defaults() {
        let c = Config::default();
        assert_eq!(c.model.name, crate::model::DEFAULT_MODEL);
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
}
