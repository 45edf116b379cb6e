//! `edgepose doctor` runs on a machine with nothing attached, exits 0 and reports the build,
//! the backends, the shipped models with their checksums; it exits non-zero when what the
//! configuration needs is unusable (a missing or corrupt model, an unreachable broker).

use std::path::Path;
use std::process::Command;

fn doctor(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgepose"))
        .arg("doctor")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("EDGEPOSE_MODEL_DIR")
        .output()
        .expect("run edgepose doctor");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn reports_build_backends_and_models() {
    let (ok, text) = doctor(&[]);
    assert!(ok, "doctor failed:\n{text}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text.contains("tract-cpu: available"), "{text}");
    assert!(text.contains("ort:"), "{text}");
    // Which runtime `kind = "auto"` would run here, and why.
    let auto = text
        .lines()
        .find(|l| l.trim_start().starts_with("auto: "))
        .unwrap_or_else(|| panic!("no auto line:\n{text}"));
    if cfg!(feature = "ort") && std::env::var_os("ORT_DYLIB_PATH").is_some() {
        assert!(auto.contains("auto: ort (onnxruntime"), "{auto}");
    } else if !cfg!(feature = "ort") {
        assert!(
            auto.contains("auto: tract (this build has no onnxruntime"),
            "{auto}"
        );
    }
    for card in edgepose::infer::model::cards_in(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models"
    ))) {
        let card = card.expect("valid card");
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} (", card.id)))
            .unwrap_or_else(|| panic!("model {} not reported:\n{text}", card.id));
        assert!(line.ends_with("checksum ok"), "{line}");
    }
    for section in ["cameras", "display buses", "serial ports", "mqtt"] {
        assert!(text.contains(section), "no {section} section:\n{text}");
    }
}

#[test]
fn reports_a_corrupt_model_and_an_unreachable_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
    // A card whose network file does not match its checksum.
    let card = std::fs::read_to_string(models.join("imhn-edge-int8.toml")).expect("card");
    let card = card.replace("id = \"imhn-edge-int8\"", "id = \"broken-copy\"");
    std::fs::write(dir.path().join("broken.toml"), card).expect("write card");
    let file = toml::from_str::<toml::Table>(
        &std::fs::read_to_string(models.join("imhn-edge-int8.toml")).expect("card"),
    )
    .expect("toml")["file"]
        .as_str()
        .expect("file key")
        .to_owned();
    std::fs::write(dir.path().join(&file), b"not a network").expect("write model");
    // A free port: bind, read it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let config = dir.path().join("edgepose.toml");
    std::fs::write(
        &config,
        format!("[sinks.mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\n"),
    )
    .expect("write config");
    let (ok, text) = doctor(&[
        "--models",
        dir.path().to_str().expect("utf-8 path"),
        "--config",
        config.to_str().expect("utf-8 path"),
    ]);
    // The configured broker is unusable: the exit status says so.
    assert!(
        !ok,
        "doctor must fail when the configured broker is unreachable:\n{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("broken-copy"))
        .unwrap_or_else(|| panic!("corrupt model not listed:\n{text}"));
    assert!(
        line.contains("NOT USABLE") && line.contains("sha256"),
        "{line}"
    );
    assert!(
        text.contains(&format!("127.0.0.1:{port} NOT reachable")),
        "{text}"
    );
}

#[test]
fn fails_for_a_missing_configured_model_and_lists_the_daemons_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("edgepose.toml");
    std::fs::write(&config, "[model]\nname = \"no-such-model\"\n").expect("write config");
    let (ok, text) = doctor(&["--config", config.to_str().expect("utf-8 path")]);
    assert!(!ok, "a missing model must fail the doctor:\n{text}");
    assert!(
        text.contains("NOT USABLE") && text.contains("no-such-model"),
        "{text}"
    );
    // Every directory the daemon searches is listed (the error of a failed lookup names them).
    let e = edgepose::infer::model::ModelCard::load("no-such-model").expect_err("missing");
    for dir in edgepose::infer::model::search_dirs() {
        assert!(e.to_string().contains(&dir.display().to_string()), "{e}");
        // The one relative to the executable differs between this test and the binary.
        let dir = if dir.ends_with("../share/edgepose/models") {
            Path::new(env!("CARGO_BIN_EXE_edgepose"))
                .parent()
                .expect("bin dir")
                .join("../share/edgepose/models")
        } else {
            dir
        };
        assert!(
            text.contains(&format!("in {}", dir.display())),
            "doctor does not list {}:\n{text}",
            dir.display()
        );
    }
}
