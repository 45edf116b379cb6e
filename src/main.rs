//! The `edgepose` command line: the daemon and its tools.

use clap::{Parser, Subcommand};
mod cli;

#[derive(Parser)]
#[command(
    name = "edgepose",
    version,
    about = "Multi-person pose estimation for edge boards"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (capture → model → tracking → sinks/display).
    Run(cli::run::Args),
    /// Print the default configuration or check a configuration file.
    Config(cli::config::Args),
    /// Decode a saved network output (.npy) into persons.
    Decode(cli::decode::Args),
    /// Run a model on images and print the persons.
    Detect(cli::detect::Args),
    /// Time pre-processing, inference and decoding of models.
    Bench(cli::bench::Args),
    /// Generate a synthetic COCO person-keypoints training set.
    Synth(cli::synth::Args),
    /// Receive pose wire frames (serial or MQTT) and print them as JSON lines.
    Listen(cli::listen::Args),
    /// COCO keypoint metrics (AP, AR) of detections against a COCO ground truth.
    Eval(cli::eval::Args),
    /// Report what this build can use on this machine (backends, models, devices, broker).
    Doctor(cli::doctor::Args),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: journald and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        default_sigpipe();
    }
    let result = match cli.command {
        Command::Run(a) => cli::run::run(a),
        Command::Config(a) => cli::config::run(a),
        Command::Decode(a) => cli::decode::run(a),
        Command::Detect(a) => cli::detect::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Synth(a) => cli::synth::run(a),
        Command::Listen(a) => cli::listen::run(a),
        Command::Eval(a) => cli::eval::run(a),
        Command::Doctor(a) => cli::doctor::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text the message before
/// it already ends with (library errors often print their source in their own message too).
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// Rust ignores SIGPIPE, so a one-shot command whose reader went away (`edgepose detect ... |
/// head -n1`) would panic in `println!`; like other Unix filters it should just end. The
/// daemon keeps ignoring it: its sinks report write errors and carry on.
#[cfg(target_os = "linux")]
fn default_sigpipe() {
    // SAFETY: called once at start-up, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(target_os = "linux"))]
fn default_sigpipe() {}
