//! `edgepose listen`: receive wire frames (serial or MQTT), print them as JSON lines.
//!
//! The robot-side view of the stream, for checking a link: frames go to stdout (schema in
//! [`edgepose::sink::jsonl`]); decoder counters (frames, CRC errors, other errors, dropped bytes)
//! go to stderr every `--stats-interval` seconds and at exit.

use anyhow::{bail, Context, Result};
use edgepose::pose::JsonFrame;
use edgepose::sink::mqtt::{parse_broker_url, MqttTlsConfig, DEFAULT_MAX_PACKET_BYTES};
use edgepose::sink::SerialConfig;
use edgepose::util::ratelimit::RateLimit;
use edgepose_wire::{DecodeError, PoseFrame, StreamDecoder, MAX_ENCODED_LEN};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Serial read timeout: how often the loop wakes to print stats when the line is quiet.
const SERIAL_READ_TIMEOUT: Duration = Duration::from_millis(200);
/// Delay before reopening a serial port that failed.
const SERIAL_REOPEN_DELAY: Duration = Duration::from_millis(500);
/// MQTT keep-alive: also bounds how long a quiet broker delays the periodic stats.
const MQTT_KEEP_ALIVE: Duration = Duration::from_secs(5);
/// How often a quiet MQTT connection wakes the loop (periodic stats, Ctrl-C).
const WAKE_INTERVAL: Duration = Duration::from_millis(200);
/// Delay before rumqttc retries a lost broker connection.
const MQTT_RETRY_DELAY: Duration = Duration::from_millis(500);

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["serial", "mqtt"])))]
pub struct Args {
    /// Serial port to read, `DEV[:BAUD]` (default baud 115200), e.g. /dev/ttyUSB0:921600.
    #[arg(long, value_name = "DEV[:BAUD]")]
    pub serial: Option<String>,
    /// MQTT broker to subscribe to, e.g. mqtt://127.0.0.1:1883.
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// CA certificate (PEM) to trust for an `mqtts://` broker (build with `--features mqtt-tls`).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// MQTT device name to listen to (`edgepose/<device>/poses`); default: all devices.
    #[arg(long, value_name = "ID", default_value = "+")]
    pub device: String,
    /// Exit after this many valid frames.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Seconds between counter reports on stderr (0 = only at exit).
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub stats_interval: u64,
    /// Largest MQTT message accepted (bytes). Messages larger than a wire frame but within
    /// this are reported and skipped on a live connection; the client cannot read past one
    /// larger than this and has to reconnect (also reported).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_PACKET_BYTES)]
    pub max_packet_bytes: usize,
}

pub fn run(args: Args) -> Result<()> {
    let mut out = Output::new(args.count, args.stats_interval);
    // Ctrl-C / SIGTERM end the loops at their next wake-up, so the final counts still print.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&out.stop))
            .context("installing signal handlers")?;
    }
    let result = match (&args.serial, &args.mqtt) {
        (Some(spec), _) => listen_serial(spec, &mut out),
        (None, Some(url)) => listen_mqtt(
            url,
            &args.device,
            args.ca_file.clone(),
            args.max_packet_bytes,
            &mut out,
        ),
        (None, None) => bail!("give --serial DEV[:BAUD] or --mqtt URL"),
    };
    out.report("final");
    result
}

/// Prints frames, counts, and decides when to stop.
struct Output {
    decoder: StreamDecoder,
    count: Option<u64>,
    interval: Option<Duration>,
    last_report: Instant,
    stdout: std::io::StdoutLock<'static>,
    /// Set by SIGINT/SIGTERM.
    stop: Arc<AtomicBool>,
    /// MQTT messages too large to be a wire frame (skipped).
    oversize: u64,
    oversize_log: RateLimit,
}

impl Output {
    fn new(count: Option<u64>, interval_s: u64) -> Self {
        Output {
            decoder: StreamDecoder::new(),
            count,
            interval: (interval_s > 0).then(|| Duration::from_secs(interval_s)),
            last_report: Instant::now(),
            stdout: std::io::stdout().lock(),
            stop: Arc::new(AtomicBool::new(false)),
            oversize: 0,
            oversize_log: RateLimit::default(),
        }
    }

    /// Feeds received bytes; returns `true` when `--count` frames have been printed.
    fn feed(&mut self, bytes: &[u8]) -> Result<bool> {
        let mut frames: Vec<Result<PoseFrame, DecodeError>> = self.decoder.feed(bytes).collect();
        for r in frames.drain(..) {
            match r {
                Ok(f) => {
                    let line = serde_json::to_string(&JsonFrame::from_wire(&f))
                        .context("cannot serialize frame as JSON")?;
                    writeln!(self.stdout, "{line}")
                        .and_then(|()| self.stdout.flush())
                        .context("cannot write to stdout")?;
                    if self.done() {
                        return Ok(true);
                    }
                }
                Err(e) => tracing::debug!("rejected frame: {e}"),
            }
        }
        self.tick();
        Ok(false)
    }

    fn done(&self) -> bool {
        self.count.is_some_and(|n| self.decoder.stats().frames >= n) || self.interrupted()
    }

    fn interrupted(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Prints the periodic report when due.
    fn tick(&mut self) {
        if let Some(iv) = self.interval {
            if self.last_report.elapsed() >= iv {
                self.report("stats");
                self.last_report = Instant::now();
            }
        }
    }

    fn report(&self, what: &str) {
        let s = self.decoder.stats();
        eprintln!(
            "listen {what}: frames={} crc_errors={} version_errors={} too_long={} malformed={} dropped_bytes={} oversize={}",
            s.frames, s.crc_errors, s.version_errors, s.too_long, s.malformed, s.dropped_bytes, self.oversize
        );
    }
}

fn listen_serial(spec: &str, out: &mut Output) -> Result<()> {
    let cfg = SerialConfig::from_spec(spec)?;
    let mut buf = [0u8; 4096];
    let mut warned = false;
    let mut read_log = RateLimit::default();
    loop {
        let mut port = match serialport::new(&cfg.device, cfg.baud)
            .timeout(SERIAL_READ_TIMEOUT)
            .open()
        {
            Ok(p) => p,
            Err(e) if !warned => {
                // The first failure is fatal: most likely a wrong path or missing permission.
                return Err(e).with_context(|| format!("cannot open serial port {}", cfg.device));
            }
            Err(e) => {
                tracing::debug!("reopen {} failed: {e}", cfg.device);
                std::thread::sleep(SERIAL_REOPEN_DELAY);
                out.tick();
                if out.interrupted() {
                    return Ok(());
                }
                continue;
            }
        };
        tracing::info!(port = %cfg.device, baud = cfg.baud, "listening");
        loop {
            if out.interrupted() {
                return Ok(());
            }
            match port.read(&mut buf) {
                Ok(0) => out.tick(),
                Ok(n) => {
                    if out.feed(&buf[..n])? {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => out.tick(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if let Some(repeated) = read_log.hit() {
                        tracing::warn!(repeated, port = %cfg.device, "read failed ({e}); reopening");
                    }
                    warned = true;
                    // A partial frame from before the failure cannot be completed.
                    out.decoder.reset();
                    std::thread::sleep(SERIAL_REOPEN_DELAY);
                    break;
                }
            }
        }
    }
}

fn listen_mqtt(
    url: &str,
    device: &str,
    ca_file: Option<std::path::PathBuf>,
    max_packet: usize,
    out: &mut Output,
) -> Result<()> {
    use rumqttc::{Client, ConnectionError, Event, MqttOptions, Packet, QoS, StateError};
    let addr = parse_broker_url(url)?;
    let topic = format!("edgepose/{device}/poses");
    let client_id = format!("edgepose-listen-{}", std::process::id());
    let mut opts = MqttOptions::new(client_id, addr.host, addr.port);
    opts.set_keep_alive(MQTT_KEEP_ALIVE)
        .set_max_packet_size(max_packet, max_packet);
    if addr.tls {
        let tls = MqttTlsConfig {
            ca_file,
            ..MqttTlsConfig::default()
        };
        tls.apply(url, &mut opts)?;
    }
    let (client, mut connection) = Client::new(opts, 16);
    let mut connected_once = false;
    let mut lost_log = RateLimit::default();
    loop {
        if out.interrupted() {
            let _ = client.try_disconnect();
            return Ok(());
        }
        let event = match connection.recv_timeout(WAKE_INTERVAL) {
            Ok(event) => event,
            Err(rumqttc::RecvTimeoutError::Timeout) => {
                out.tick();
                continue;
            }
            Err(rumqttc::RecvTimeoutError::Disconnected) => bail!("MQTT client stopped"),
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                // Clean session: subscribe again after every reconnect.
                client
                    .try_subscribe(topic.clone(), QoS::AtMostOnce)
                    .context("cannot subscribe")?;
                if !connected_once {
                    tracing::info!(%url, %topic, "listening");
                }
                connected_once = true;
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.payload.len() > MAX_ENCODED_LEN => {
                // Not a wire frame: say so (the decoder would only count "too long").
                out.oversize += 1;
                if let Some(repeated) = out.oversize_log.hit() {
                    tracing::warn!(repeated, topic = %p.topic,
                    "skipped a message of {} bytes: larger than a wire frame ({MAX_ENCODED_LEN} bytes)",
                    p.payload.len());
                }
                out.tick();
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if out.feed(&p.payload)? {
                    return Ok(());
                }
                // Each payload is one complete frame: terminate one that lacked its delimiter.
                if out.decoder.pending() > 0 && out.feed(&[0])? {
                    return Ok(());
                }
            }
            Ok(_) => out.tick(),
            Err(e) if !connected_once => {
                return Err(anyhow::anyhow!("{e}")).context(format!("cannot connect to {url}"));
            }
            Err(ConnectionError::MqttState(StateError::Deserialization(
                rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(n),
            ))) => {
                out.oversize += 1;
                if let Some(repeated) = out.oversize_log.hit() {
                    tracing::warn!(repeated, %url,
                    "a message of {n} bytes is over --max-packet-bytes {max_packet}; the client cannot skip it and reconnects (raise --max-packet-bytes to read it)");
                }
                std::thread::sleep(MQTT_RETRY_DELAY);
                out.tick();
            }
            Err(e) => {
                if let Some(repeated) = lost_log.hit() {
                    tracing::warn!(repeated, %url, "MQTT connection lost ({e}); retrying");
                }
                std::thread::sleep(MQTT_RETRY_DELAY);
                out.tick();
            }
        }
    }
}
