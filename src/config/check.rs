//! What `edgepose config check` and `edgepose doctor` verify beyond parsing: everything the
//! daemon would otherwise only find out when it starts or runs — the model card and its
//! network's checksum, the input size and test-time scales for that model, the files and
//! directories the source and the sinks need.

use std::path::Path;

use super::Config;
use crate::infer::model::ModelCard;
use crate::sink::mqtt::MqttTlsConfig;
use crate::source::SourceConfig;

/// One thing the configuration needs that is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The configuration key concerned (`model.name`, `source.path`, ...).
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

/// Checks what `config` needs; empty when the daemon has everything to start with.
pub fn preflight(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |key: &str, message: String| {
        problems.push(Problem {
            key: key.to_owned(),
            message,
        })
    };
    match ModelCard::load(&config.model.name) {
        Err(e) => problem("model.name", e.to_string()),
        Ok(card) => {
            if let Err(e) = card.verify_checksum() {
                problem("model.name", e.to_string());
            }
            match config.model.input_size().and_then(|s| card.input_size(s)) {
                Err(e) => problem("model.input_size", e),
                Ok(base) => {
                    if let Err(e) = check_tta(config, &card, base) {
                        problem("model.tta_scales", e);
                    }
                }
            }
        }
    }
    match &config.source {
        SourceConfig::Images(c) => {
            if let Err(e) = crate::source::images::ImageSource::open(c) {
                problem("source.path", e.to_string());
            }
        }
        SourceConfig::Video(c) => {
            if !c.path.is_file() {
                problem(
                    "source.path",
                    format!("video file {} does not exist", c.path.display()),
                );
            }
        }
        SourceConfig::V4l2(c) => {
            if !c.device.exists() {
                problem(
                    "source.device",
                    format!("camera {} does not exist", c.device.display()),
                );
            }
        }
        SourceConfig::Command(c) => match c.command.first() {
            None => problem("source.command", "is empty".into()),
            Some(program) => {
                if let Err(e) = crate::source::video::require_program(
                    "command source",
                    Path::new(program),
                    "install it or give its full path",
                ) {
                    problem("source.command", e.to_string());
                }
            }
        },
        SourceConfig::Mcap(c) => {
            if !c.path.is_file() {
                problem(
                    "source.path",
                    format!("recording {} does not exist", c.path.display()),
                );
            }
        }
        // A network stream is only known to work once it is probed (the daemon does that).
        SourceConfig::Stream(_) | SourceConfig::Synthetic(_) => {}
    }

    if let Some(path) = config.sinks.jsonl.as_ref().and_then(|j| j.path.as_ref()) {
        if path.as_os_str() != "-" {
            if let Some(m) = missing_parent(path) {
                problem("sinks.jsonl.path", m);
            }
        }
    }
    if let Some(serial) = &config.sinks.serial {
        if !Path::new(&serial.device).exists() {
            problem(
                "sinks.serial.device",
                format!(
                    "serial port {} does not exist (now; the sink would wait for it)",
                    serial.device
                ),
            );
        }
    }
    if let Some(mqtt) = &config.sinks.mqtt {
        let MqttTlsConfig {
            ca_file,
            client_cert,
            client_key,
        } = &mqtt.tls;
        for (key, file) in [
            ("sinks.mqtt.tls.ca_file", ca_file),
            ("sinks.mqtt.tls.client_cert", client_cert),
            ("sinks.mqtt.tls.client_key", client_key),
        ] {
            if let Some(f) = file.as_ref().filter(|f| !f.is_file()) {
                problem(key, format!("{} does not exist", f.display()));
            }
        }
    }
    if let crate::display::DisplayConfig::Png(png) = &config.display {
        if !png.dir.is_dir() && missing_parent(&png.dir).is_some() {
            problem(
                "display.dir",
                format!(
                    "directory {} does not exist and cannot be created there",
                    png.dir.display()
                ),
            );
        }
    }
    problems
}

/// "directory ... does not exist" when the file's directory is missing.
fn missing_parent(path: &Path) -> Option<String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    (!dir.is_dir()).then(|| {
        format!(
            "directory {} (for {}) does not exist",
            dir.display(),
            path.display()
        )
    })
}

/// The test-time augmentation the daemon would set up, checked without loading the network.
fn check_tta(config: &Config, card: &ModelCard, base: (u32, u32)) -> Result<(), String> {
    let settings = crate::infer::tta::TtaSettings::from_card(card)
        .with_overrides(config.model.tta_flip, config.model.tta_scales.as_deref());
    if !settings.is_active() {
        return Ok(());
    }
    crate::infer::model::validate_scales(&settings.scales)?;
    if !matches!(
        card.family,
        crate::infer::model::Family::Simplepose | crate::infer::model::Family::Paf
    ) {
        return Err(format!(
            "model {}: test-time augmentation needs a heatmap family, not {:?}",
            card.id, card.family
        ));
    }
    for &s in settings.scales.iter().filter(|&&s| s != 1.0) {
        let want = (
            (base.0 as f32 * s).round().max(1.0) as u32,
            (base.1 as f32 * s).round().max(1.0) as u32,
        );
        card.input_size(Some(want.into()))
            .map_err(|e| format!("TTA scale {s}: {e}"))?;
    }
    Ok(())
}
