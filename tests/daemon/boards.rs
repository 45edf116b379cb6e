//! Board presets (boards/<board>/edgepose.toml), the systemd unit and the sysusers file: every
//! preset loads and validates through the daemon's own config loader, names a shipped model at a
//! size its card accepts, and is a daemon configuration (real camera, no per-frame JSON on the
//! journal); the unit has what the packaging promises and passes `systemd-analyze verify`.

use edgepose::config::Config;
use edgepose::infer::backend::Allocator;
use edgepose::infer::model::ModelCard;
use edgepose::source::SourceConfig;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The boards the presets are promised for (the README and the .deb name them).
const BOARDS: &[&str] = &[
    "rpi4",
    "rpi5",
    "rpi-zero-2w",
    "jetson-nano",
    "jetson-orin-nano",
];
/// Device groups the unit gives the daemon's user.
const GROUPS: &[&str] = &["video", "i2c", "spi", "dialout", "gpio"];

fn boards_dir() -> PathBuf {
    Path::new(ROOT).join("boards")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn every_preset_loads_and_validates() {
    for board in BOARDS {
        let path = boards_dir().join(board).join("edgepose.toml");
        let config = Config::load(Some(&path), &[])
            .unwrap_or_else(|e| panic!("{board}: preset does not load: {e}"));

        // A daemon on a board reads a camera, not the simulation.
        match &config.source {
            SourceConfig::V4l2(v) => assert!(
                v.device.to_string_lossy().starts_with("/dev/video"),
                "{board}: camera device {}",
                v.device.display()
            ),
            other => panic!("{board}: source should be a V4L2 camera, is {other:?}"),
        }

        // The model is one we ship, at a size its card accepts.
        let card_path = Path::new(ROOT)
            .join("models")
            .join(format!("{}.toml", config.model.name));
        let card = ModelCard::from_path(&card_path)
            .unwrap_or_else(|e| panic!("{board}: model {}: {e}", config.model.name));
        let requested = config
            .model
            .input_size()
            .unwrap_or_else(|e| panic!("{board}: input_size: {e}"));
        card.input_size(requested)
            .unwrap_or_else(|e| panic!("{board}: input size {requested:?} rejected: {e}"));

        // Under systemd stdout is the journal: no JSON line per frame there.
        if let Some(jsonl) = &config.sinks.jsonl {
            let to_stdout = jsonl.path.as_deref().is_none_or(|p| p == Path::new("-"));
            assert!(!to_stdout, "{board}: JSON lines would flood the journal");
        }
        // Poses must go somewhere a robot can read them.
        assert!(
            config.sinks.mqtt.is_some() || config.sinks.serial.is_some(),
            "{board}: neither an MQTT nor a serial sink"
        );
        // Only the 512 MB board trades inference time for memory (README, "Memory").
        let lean = *board == "rpi-zero-2w";
        assert_eq!(
            config.daemon.allocator == Allocator::Lean,
            lean,
            "{board}: allocator {:?}",
            config.daemon.allocator
        );
        // Leave a core to capture, tracking and the sinks on these 4-core boards.
        assert!(
            (1..=4).contains(&config.model.backend.threads),
            "{board}: {} inference threads",
            config.model.backend.threads
        );
    }
}

/// The camera variants beside each board's USB-webcam preset: (board, file, program).
const CAMERA_PRESETS: &[(&str, &str, &str)] = &[
    ("rpi4", "edgepose-camera-module.toml", "rpicam-vid"),
    ("rpi5", "edgepose-camera-module.toml", "rpicam-vid"),
    ("jetson-nano", "edgepose-csi.toml", "gst-launch-1.0"),
    ("jetson-orin-nano", "edgepose-csi.toml", "gst-launch-1.0"),
    ("jetson-orin-nano", "edgepose-rtsp.toml", ""),
];

/// The value after `flag` in an argv.
fn arg_after<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    let i = argv.iter().position(|a| a == flag)?;
    argv.get(i + 1).map(String::as_str)
}

#[test]
fn camera_presets_run_the_right_program_at_the_configured_size() {
    for (board, file, program) in CAMERA_PRESETS {
        let path = boards_dir().join(board).join(file);
        let config = Config::load(Some(&path), &[])
            .unwrap_or_else(|e| panic!("{board}/{file}: does not load: {e}"));
        let usb = Config::load(Some(&boards_dir().join(board).join("edgepose.toml")), &[])
            .expect("the board's main preset loads");
        // Only the source differs from the board's USB-webcam preset.
        assert_eq!(config.model.name, usb.model.name, "{board}/{file}");
        assert_eq!(
            config.model.input_size, usb.model.input_size,
            "{board}/{file}"
        );
        assert!(config.sinks.mqtt.is_some(), "{board}/{file}");
        match &config.source {
            SourceConfig::Command(c) => {
                assert_eq!(c.command[0], *program, "{board}/{file}");
                let (w, h) = c.size().expect("size").expect("raw frames have a size");
                match *program {
                    "rpicam-vid" => {
                        assert_eq!(
                            arg_after(&c.command, "--width"),
                            Some(w.to_string().as_str())
                        );
                        assert_eq!(
                            arg_after(&c.command, "--height"),
                            Some(h.to_string().as_str())
                        );
                        assert_eq!(arg_after(&c.command, "--codec"), Some("yuv420"));
                        assert_eq!(arg_after(&c.command, "-o"), Some("-"), "stdout");
                        assert_eq!(arg_after(&c.command, "-t"), Some("0"), "runs forever");
                        // rpicam-vid pads yuv420 rows to 64 bytes: a padded row would shear.
                        assert_eq!(w % 64, 0, "{board}/{file}: width {w}");
                    }
                    _ => {
                        // The caps handed to fdsink carry the configured size and format.
                        let caps = format!("video/x-raw,format=I420,width={w},height={h}");
                        assert!(c.command.contains(&caps), "{board}/{file}: {caps}");
                        assert_eq!(c.command[1], "-q", "{board}/{file}: quiet gst-launch");
                        assert!(c.command.iter().any(|a| a == "nvarguscamerasrc"));
                        assert!(c.command.iter().any(|a| a == "nvvidconv"));
                        assert_eq!(c.command.last().map(String::as_str), Some("fd=1"));
                    }
                }
            }
            SourceConfig::Stream(s) => {
                assert!(program.is_empty(), "{board}/{file}");
                assert!(s.url.starts_with("rtsp://"), "{board}/{file}: {}", s.url);
            }
            other => panic!("{board}/{file}: not a camera-program or stream source: {other:?}"),
        }
    }
}

#[test]
fn every_board_directory_is_a_known_board_with_a_readme() {
    let mut found: Vec<String> = std::fs::read_dir(boards_dir())
        .expect("boards/ is readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("edgepose.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut expected: Vec<String> = BOARDS.iter().map(|b| b.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "preset directories under boards/");
    for board in BOARDS {
        let readme = read(&boards_dir().join(board).join("README.md"));
        for topic in ["I2C", "SPI", "UART", "UVC", "CSI"] {
            assert!(
                readme.contains(topic),
                "{board}/README.md does not cover {topic}"
            );
        }
    }
}

#[test]
fn a_broken_preset_is_rejected_with_the_key_named() {
    // The validation the presets pass is real: the same loader rejects a typo'd key.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    let good = read(&boards_dir().join("rpi4").join("edgepose.toml"));
    std::fs::write(&path, good.replace("bus = ", "buss = ")).expect("write");
    let err = Config::load(Some(&path), &[]).expect_err("typo must fail");
    assert!(err.to_string().contains("buss"), "{err}");
}

#[test]
fn systemd_unit_and_sysusers_agree() {
    let unit = read(&boards_dir().join("systemd").join("edgepose.service"));
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for required in [
        "Type=notify",
        "Restart=on-failure",
        "User=edgepose",
        "ExecStart=/usr/bin/edgepose run --config /etc/edgepose/edgepose.toml",
    ] {
        assert!(lines.contains(&required), "unit lacks `{required}`");
    }
    let watchdog = lines
        .iter()
        .find_map(|l| l.strip_prefix("WatchdogSec="))
        .expect("unit sets WatchdogSec");
    let secs: u64 = watchdog
        .trim_end_matches('s')
        .parse()
        .expect("WatchdogSec in seconds");
    assert!(
        secs >= 10,
        "watchdog of {secs} s is too tight for a Pi Zero"
    );
    let groups: Vec<&str> = lines
        .iter()
        .find_map(|l| l.strip_prefix("SupplementaryGroups="))
        .expect("unit sets SupplementaryGroups")
        .split_whitespace()
        .collect();
    for g in GROUPS {
        assert!(groups.contains(g), "SupplementaryGroups lacks {g}");
    }

    // A group missing on the board would stop the unit (216/GROUP): sysusers creates or
    // joins every one of them, and the user itself.
    let sysusers = read(&boards_dir().join("systemd").join("edgepose.sysusers"));
    let entries: Vec<Vec<&str>> = sysusers
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        entries.iter().any(|e| e[..2] == ["u", "edgepose"]),
        "sysusers creates the edgepose user"
    );
    for g in &groups {
        assert!(
            entries
                .iter()
                .any(|e| e.len() >= 3 && e[..3] == ["m", "edgepose", g]),
            "sysusers does not add edgepose to {g}"
        );
    }
}

#[test]
fn systemd_analyze_accepts_the_unit() {
    let have = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !crate::support::require(have, "systemd-analyze") {
        return;
    }
    // Point ExecStart at the binary this test was built with, so verify checks the unit
    // itself rather than whether the package is installed here.
    let unit = read(&boards_dir().join("systemd").join("edgepose.service"))
        .replace("/usr/bin/edgepose", env!("CARGO_BIN_EXE_edgepose"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("edgepose.service");
    std::fs::write(&path, unit).expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify also reports unrelated units of the host; keep only what concerns ours.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("edgepose.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

#[test]
fn deb_metadata_assets_exist() {
    let manifest: toml::Table =
        toml::from_str(&read(&Path::new(ROOT).join("Cargo.toml"))).expect("Cargo.toml parses");
    let deb = manifest
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("deb"))
        .expect("[package.metadata.deb]");
    let assets = deb
        .get("assets")
        .and_then(|a| a.as_array())
        .expect("deb assets");
    let mut destinations = Vec::new();
    for asset in assets {
        let fields: Vec<&str> = asset
            .as_array()
            .expect("asset is [source, dest, mode]")
            .iter()
            .map(|v| v.as_str().expect("asset fields are strings"))
            .collect();
        let [source, dest, mode] = fields[..] else {
            panic!("asset {fields:?} is not [source, dest, mode]");
        };
        assert!(u32::from_str_radix(mode, 8).is_ok(), "mode {mode}");
        destinations.push(dest.to_owned());
        if source.starts_with("target/") {
            continue; // built by cargo
        }
        let matches = glob::glob(&format!("{ROOT}/{source}"))
            .expect("valid glob")
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .count();
        assert!(matches > 0, "deb asset {source} matches no file");
    }
    // The unit runs the binary with the installed config; both must be packaged.
    assert!(destinations.iter().any(|d| d == "usr/bin/"));
    assert!(destinations
        .iter()
        .any(|d| d == "etc/edgepose/edgepose.toml"));
    // cargo-deb installs boards/systemd/edgepose.sysusers itself (next to the unit).
    assert!(Path::new(ROOT)
        .join("boards/systemd/edgepose.sysusers")
        .is_file());
    // Models go where the model loader searches.
    assert!(edgepose::infer::model::MODEL_SEARCH_DIRS.contains(&"/usr/share/edgepose/models"));
    assert!(destinations
        .iter()
        .any(|d| d == "usr/share/edgepose/models/"));

    let units = deb
        .get("systemd-units")
        .and_then(|u| u.get("unit-scripts"))
        .and_then(|u| u.as_str())
        .expect("systemd-units.unit-scripts");
    assert!(Path::new(ROOT)
        .join(units)
        .join("edgepose.service")
        .is_file());
    let postinst = read(&Path::new(ROOT).join("boards/debian/postinst"));
    assert!(
        postinst.contains("systemd-sysusers") && postinst.contains("#DEBHELPER#"),
        "postinst creates the user and keeps the debhelper snippets"
    );
}
