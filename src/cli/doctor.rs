//! `edgepose doctor`: what this build can do on this machine — build facts, inference
//! backends and providers, models (with checksums), cameras, display buses, serial ports and,
//! given a configuration, whether its MQTT broker answers. Every check reports instead of
//! failing, so the command is useful precisely when something is missing.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use edgepose::infer::model::{self, ModelCard};

/// Arguments of `edgepose doctor`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Configuration file whose model, backend and MQTT broker to check.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Extra model directory to list (besides $EDGEPOSE_MODEL_DIR, ./models, the install dir).
    #[arg(long)]
    pub models: Option<PathBuf>,
}

/// How long to wait for the MQTT broker's TCP handshake.
const BROKER_TIMEOUT: Duration = Duration::from_secs(2);

/// Device node patterns, by kind.
const CAMERA_GLOB: &str = "/dev/video*";
const DISPLAY_GLOBS: &[&str] = &["/dev/i2c-*", "/dev/spidev*", "/dev/gpiochip*"];
const SERIAL_GLOBS: &[&str] = &[
    "/dev/ttyUSB*",
    "/dev/ttyACM*",
    "/dev/ttyAMA*",
    "/dev/serial0",
    "/dev/ttyTHS*",
];

/// Cargo features this binary was built with (those that change what the doctor can find).
fn features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if cfg!(feature = "v4l2") {
        f.push("v4l2");
    }
    if cfg!(feature = "hw-display") {
        f.push("hw-display");
    }
    if cfg!(feature = "display-rppal") {
        f.push("display-rppal");
    }
    if cfg!(feature = "mqtt-tls") {
        f.push("mqtt-tls");
    }
    if cfg!(feature = "ort") {
        f.push("ort");
    }
    if cfg!(feature = "tract-cuda") {
        f.push("tract-cuda");
    }
    f
}

fn devices(patterns: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = patterns
        .iter()
        .filter_map(|p| glob::glob(p).ok())
        .flat_map(|paths| paths.flatten())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn list(title: &str, found: &[PathBuf], describe: impl Fn(&Path) -> String) {
    if found.is_empty() {
        println!("{title}: none");
        return;
    }
    println!("{title}:");
    for p in found {
        println!("  {}{}", p.display(), describe(p));
    }
}

#[cfg(all(feature = "v4l2", target_os = "linux"))]
fn camera_caps(path: &Path) -> String {
    match v4l::Device::with_path(path).and_then(|d| d.query_caps()) {
        Ok(c) => format!(
            " — {} ({}, {}): {}",
            c.card, c.driver, c.bus, c.capabilities
        ),
        Err(e) => format!(" — cannot query: {e}"),
    }
}

#[cfg(not(all(feature = "v4l2", target_os = "linux")))]
fn camera_caps(_path: &Path) -> String {
    " (build with --features v4l2 for capabilities)".into()
}

fn backends(config: &edgepose::infer::backend::BackendConfig) {
    println!("backends:");
    println!("  tract-cpu: available");
    #[cfg(feature = "tract-cuda")]
    match edgepose::infer::backend::cuda::cuda_status() {
        Ok(()) => println!("  tract-gpu: CUDA runtime usable"),
        Err(e) => println!("  tract-gpu: CUDA not usable ({e}); runs on the CPU"),
    }
    #[cfg(not(feature = "tract-cuda"))]
    println!("  tract-gpu: not built (cargo feature `tract-cuda`)");
    #[cfg(feature = "ort")]
    match edgepose::infer::backend::ort::load_library(config.ort_library.as_deref()) {
        Ok((path, version)) => println!(
            "  ort: onnxruntime {version} from {}; providers: {}",
            path.display(),
            edgepose::infer::backend::ort::available_providers().join(", ")
        ),
        Err(e) => println!("  ort: not usable: {e}"),
    }
    #[cfg(not(feature = "ort"))]
    {
        let _ = config;
        println!("  ort: not built (cargo feature `ort`)");
    }
}

fn models(extra: Option<&Path>) -> usize {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = extra {
        dirs.push(d.to_owned());
    }
    if let Some(d) = std::env::var_os(model::MODEL_DIR_ENV) {
        dirs.push(PathBuf::from(d));
    }
    dirs.extend(model::MODEL_SEARCH_DIRS.iter().map(PathBuf::from));
    let mut ok = 0;
    println!("models:");
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        println!("  in {}:", dir.display());
        for card in model::cards_in(dir) {
            match card {
                Ok(card) => {
                    let status = match card.verify_checksum() {
                        Ok(()) => {
                            ok += 1;
                            "checksum ok".to_owned()
                        }
                        Err(e) => format!("NOT USABLE: {e}"),
                    };
                    println!(
                        "    {} ({:?}, {}x{}): {status}",
                        card.id, card.family, card.input.width, card.input.height
                    );
                }
                Err(e) => println!("    invalid card: {e}"),
            }
        }
    }
    if ok == 0 {
        println!("  no usable model found");
    }
    ok
}

fn broker(url: &str) {
    let addr = match edgepose::sink::mqtt::parse_broker_url(url) {
        Ok(a) => a,
        Err(e) => {
            println!("mqtt: {e}");
            return;
        }
    };
    let target = format!("{}:{}", addr.host, addr.port);
    let reachable = target
        .to_socket_addrs()
        .map_err(|e| e.to_string())
        .and_then(|mut addrs| addrs.next().ok_or_else(|| "no address".to_owned()))
        .and_then(|sa| TcpStream::connect_timeout(&sa, BROKER_TIMEOUT).map_err(|e| e.to_string()));
    match reachable {
        Ok(_) => println!("mqtt: broker {target} reachable"),
        Err(e) => println!("mqtt: broker {target} NOT reachable: {e}"),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    println!(
        "edgepose {} ({} {}), features: [{}]",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        features().join(", ")
    );
    let config = match &args.config {
        Some(p) => Some(edgepose::config::Config::load(Some(p), &[])?),
        None => None,
    };
    let backend = config
        .as_ref()
        .map(|c| c.model.backend.clone())
        .unwrap_or_default();
    backends(&backend);
    models(args.models.as_deref());
    if let Some(c) = &config {
        match ModelCard::load(&c.model.name) {
            Ok(card) => println!(
                "configured model: {} ({})",
                card.id,
                card.model_path().display()
            ),
            Err(e) => println!("configured model: NOT FOUND: {e}"),
        }
    }
    list("cameras", &devices(&[CAMERA_GLOB]), camera_caps);
    list("display buses", &devices(DISPLAY_GLOBS), |_| String::new());
    list("serial ports", &devices(SERIAL_GLOBS), |_| String::new());
    match config.as_ref().and_then(|c| c.sinks.mqtt.as_ref()) {
        Some(m) => broker(&m.url),
        None if config.is_some() => println!("mqtt: not configured"),
        None => println!("mqtt: no --config given"),
    }
    Ok(())
}
