//! `edgepose doctor`: what this build can do on this machine — build facts, inference
//! backends and providers, models (with checksums), cameras, display buses, serial ports and,
//! whether the configuration's model, paths and MQTT broker are usable. Every check reports
//! instead of stopping, so the command is useful precisely when something is missing; the
//! exit status is non-zero when something the configuration (given, or the built-in default)
//! needs is unusable.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use edgepose::infer::model::{self, ModelCard};

/// Arguments of `edgepose doctor`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Configuration file whose model, backend, paths and MQTT broker to check (default: the
    /// built-in configuration, as `edgepose run` without --config).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Extra model directory to list (besides the directories the daemon searches).
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
    println!("  ort: not built (cargo feature `ort`)");
    let auto = edgepose::infer::backend::choose(&edgepose::infer::backend::BackendConfig {
        kind: edgepose::infer::backend::BackendKind::Auto,
        ..config.clone()
    });
    println!(
        "  auto: {} ({})",
        auto.kind.as_str(),
        auto.reason.trim_start_matches("auto: ")
    );
    println!("  configured: {}", config.kind.as_str());
}

fn models(extra: Option<&Path>) -> usize {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = extra {
        dirs.push(d.to_owned());
    }
    // Exactly the daemon's search path, in its order.
    dirs.extend(model::search_dirs());
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut ok = 0;
    println!("models:");
    for dir in &dirs {
        let real = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if seen.contains(&real) {
            println!("  in {}: (listed above)", dir.display());
            continue;
        }
        seen.push(real);
        if !dir.is_dir() {
            println!("  in {}: (no such directory)", dir.display());
            continue;
        }
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

/// Whether the broker at `url` accepts a TCP connection; prints the finding.
fn broker(url: &str) -> bool {
    let addr = match edgepose::sink::mqtt::parse_broker_url(url) {
        Ok(a) => a,
        Err(e) => {
            println!("mqtt: {e}");
            return false;
        }
    };
    let target = format!("{}:{}", addr.host, addr.port);
    let reachable = target
        .to_socket_addrs()
        .map_err(|e| e.to_string())
        .and_then(|mut addrs| addrs.next().ok_or_else(|| "no address".to_owned()))
        .and_then(|sa| TcpStream::connect_timeout(&sa, BROKER_TIMEOUT).map_err(|e| e.to_string()));
    match reachable {
        Ok(_) => {
            println!("mqtt: broker {target} reachable");
            true
        }
        Err(e) => {
            println!("mqtt: broker {target} NOT reachable: {e}");
            false
        }
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
    // The configuration the daemon would run: the file given, or the built-in default.
    let config = edgepose::config::Config::load(args.config.as_deref(), &[])?;
    let config_name = args.config.as_ref().map_or_else(
        || "built-in default".to_owned(),
        |p| p.display().to_string(),
    );
    backends(&config.model.backend);
    models(args.models.as_deref());
    match ModelCard::load(&config.model.name) {
        Ok(card) => println!(
            "configured model: {} ({})",
            card.id,
            card.model_path().display()
        ),
        Err(e) => println!("configured model: NOT FOUND: {e}"),
    }
    list("cameras", &devices(&[CAMERA_GLOB]), camera_caps);
    list("display buses", &devices(DISPLAY_GLOBS), |_| String::new());
    list("serial ports", &devices(SERIAL_GLOBS), |_| String::new());
    let mut problems: Vec<String> = edgepose::config::check::preflight(&config)
        .iter()
        .map(ToString::to_string)
        .collect();
    match config.sinks.mqtt.as_ref() {
        Some(m) => {
            if !broker(&m.url) {
                problems.push(format!(
                    "`sinks.mqtt.url`: broker {} is not reachable",
                    m.url
                ));
            }
        }
        None => println!("mqtt: not configured"),
    }
    if problems.is_empty() {
        println!("config {config_name}: everything it needs is usable");
        return Ok(());
    }
    println!("config {config_name}: NOT USABLE:");
    for p in &problems {
        println!("  {p}");
    }
    anyhow::bail!(
        "{} problem{} with what {config_name} needs (listed above)",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )
}
