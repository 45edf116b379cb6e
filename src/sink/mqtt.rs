//! Poses to an MQTT broker.
//!
//! Topics, for a configured `device` name:
//! - `edgepose/<device>/poses`: each frame as the **complete COBS wire frame, trailing 0x00
//!   included** (exactly the bytes the serial sink writes), so one decoder
//!   ([`edgepose_wire::StreamDecoder`] or `examples/python/edgepose_wire.py`) handles both and a
//!   bridge can forward payloads to a UART verbatim;
//! - `edgepose/<device>/poses/json` (when `json = true`): the frame as one JSON object
//!   (schema in [`super::jsonl`]);
//! - a multi-camera daemon (`[sources.<name>]`) publishes each named camera's frames on
//!   `edgepose/<device>/<camera>/poses` and `edgepose/<device>/<camera>/poses/json` instead
//!   (wire protocol version 2, which carries the camera index); one `status` topic per device;
//! - `edgepose/<device>/status`: retained `online` after every (re)connect, retained `offline`
//!   on a clean close and, as the Last Will, when the daemon dies or loses the network.
//!
//! `send` only queues (bounded; when the broker is unreachable the oldest frames are dropped
//! and counted, and frames older than `max_age_ms` are dropped as stale rather than delivered
//! late). A publisher thread hands queued frames to rumqttc while connected; a connection
//! thread drives rumqttc's event loop and reconnects with exponential backoff.
//!
//! Messages up to `max_packet_bytes` go out (rumqttc's own default, 10 KiB, is smaller than the
//! JSON of a crowded frame); a larger one is counted as over-size and skipped, and the
//! connection stays up. The default client id carries a random part, so two daemons with the
//! same device name do not take each other's connection over; when the broker refuses or
//! drops the connection, the log says the likely cause.

use super::queue::DropOldestQueue;
use super::{encode_wire, Sink, SinkError, SinkStats, DEFAULT_MAX_AGE_MS};
use crate::pose::FramePoses;
use crate::pose::JsonFrame;
use crate::util::ratelimit::RateLimit;
use crate::util::Backoff;
use rumqttc::{
    Client, ConnectReturnCode, Connection, ConnectionError, Event, LastWill, MqttOptions, Outgoing,
    Packet, QoS, StateError,
};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

/// Default broker port without / with TLS.
const MQTT_PORT: u16 = 1883;
const MQTTS_PORT: u16 = 8883;
/// Pause before retrying a JSON publish that found rumqttc's request channel full.
const JSON_RETRY_INTERVAL: Duration = Duration::from_millis(2);
/// Requests rumqttc may buffer between the publisher and its event loop. Small, so that during
/// an outage almost everything waits in our own drop-oldest queue.
const REQUEST_CHANNEL_CAP: usize = 8;
/// Publisher poll interval while disconnected or idle.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Bound on `flush` and on the clean shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Default largest MQTT packet sent or received: far above the JSON of the most persons a
/// frame can hold (about 25 KB for 32), and at least what a broker's default allows.
pub const DEFAULT_MAX_PACKET_BYTES: usize = 256 * 1024;
/// A connection the broker closes sooner than this after accepting it, again and again, is
/// most likely being taken over by another client with the same client id.
const TAKEOVER_WINDOW: Duration = Duration::from_secs(5);
/// Payloads of the status topic.
pub const STATUS_ONLINE: &str = "online";
pub const STATUS_OFFLINE: &str = "offline";

/// MQTT sink settings (all optional; defaults connect to a local broker).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Broker URL: `mqtt://host[:port]` (or `tcp://`, default port 1883), or `mqtts://host[:port]`
    /// (or `ssl://`, default 8883; needs the `mqtt-tls` cargo feature).
    pub url: String,
    /// Device name used in the topics `edgepose/<device>/...`; no `/`, `+`, `#`.
    pub device: String,
    /// Numeric device id written into wire frames.
    pub device_id: u32,
    /// MQTT client id; default `edgepose-<device>-<random>`, different for every sink opened.
    /// A fixed id must be unique per broker: a second client with the same id takes the
    /// connection over.
    pub client_id: Option<String>,
    /// QoS for pose frames: 0 (default: newest data matters, no retransmits), 1 or 2.
    pub qos: u8,
    /// Keep-alive in seconds; the broker declares the client dead (and publishes the Last Will)
    /// after about 1.5 times this without traffic. 0 disables.
    pub keep_alive_s: u64,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Also publish JSON on `edgepose/<device>/poses/json`.
    pub json: bool,
    /// Frames queued while the broker is unreachable; beyond that the oldest are dropped.
    pub queue_len: usize,
    /// Queued frames older than this are dropped (counted as stale) instead of published late,
    /// e.g. after an outage; 0 = no limit.
    pub max_age_ms: u64,
    /// Largest MQTT packet (topic + payload + header) sent or accepted; a larger message is
    /// counted as over-size and not sent.
    pub max_packet_bytes: usize,
    /// First reconnect delay; doubles up to `reconnect_max_ms`.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// TLS settings for `mqtts://` URLs.
    pub tls: MqttTlsConfig,
}

/// TLS files (PEM) for `mqtts://` brokers.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttTlsConfig {
    /// CA certificate(s) to trust for the broker.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key for mutual TLS (both or neither).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: format!("mqtt://127.0.0.1:{MQTT_PORT}"),
            device: "edgepose".into(),
            device_id: 0,
            client_id: None,
            qos: 0,
            keep_alive_s: 30,
            username: None,
            password: None,
            json: false,
            queue_len: 64,
            max_age_ms: DEFAULT_MAX_AGE_MS,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
            reconnect_min_ms: 200,
            reconnect_max_ms: 10_000,
            tls: MqttTlsConfig::default(),
        }
    }
}

/// A parsed broker address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

/// Parses `mqtt://host:port`, `mqtts://host`, `host:port` or `host` (IPv6 in brackets).
pub fn parse_broker_url(url: &str) -> Result<BrokerAddr, SinkError> {
    let bad = |why: &str| SinkError::Config(format!("bad MQTT URL {url:?}: {why}"));
    let (tls, rest) = match url.split_once("://") {
        Some(("mqtt" | "tcp", rest)) => (false, rest),
        Some(("mqtts" | "ssl", rest)) => (true, rest),
        Some((scheme, _)) => return Err(bad(&format!("unknown scheme {scheme:?}"))),
        None => (false, url),
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') || rest.contains('@') || rest.contains('?') {
        return Err(bad("expected only host[:port]"));
    }
    let default_port = if tls { MQTTS_PORT } else { MQTT_PORT };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(bad("junk after ']'")),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad(&format!("bad port {p:?}")))?,
    };
    Ok(BrokerAddr {
        host: host.to_owned(),
        port,
        tls,
    })
}

impl MqttConfig {
    /// `edgepose/<device>/poses`.
    pub fn poses_topic(&self) -> String {
        format!("edgepose/{}/poses", self.device)
    }

    /// `edgepose/<device>/poses/json`.
    pub fn json_topic(&self) -> String {
        format!("edgepose/{}/poses/json", self.device)
    }

    /// `edgepose/<device>/<camera>/poses` for a named camera, else [`Self::poses_topic`].
    pub fn camera_poses_topic(&self, camera: Option<&str>) -> String {
        match camera {
            Some(c) => format!("edgepose/{}/{c}/poses", self.device),
            None => self.poses_topic(),
        }
    }

    /// `edgepose/<device>/<camera>/poses/json` for a named camera, else [`Self::json_topic`].
    pub fn camera_json_topic(&self, camera: Option<&str>) -> String {
        match camera {
            Some(c) => format!("edgepose/{}/{c}/poses/json", self.device),
            None => self.json_topic(),
        }
    }

    /// `edgepose/<device>/status`.
    pub fn status_topic(&self) -> String {
        format!("edgepose/{}/status", self.device)
    }

    fn qos(&self) -> Result<QoS, SinkError> {
        match self.qos {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            q => Err(SinkError::Config(format!(
                "MQTT qos must be 0, 1 or 2, not {q}"
            ))),
        }
    }

    /// The configured client id, or `edgepose-<device>-<random>`, new on every call: a sink
    /// takes one when it opens and keeps it through reconnects, and no two sinks (in one
    /// process or two) share one.
    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("edgepose-{}-{}", self.device, random_tag()))
    }

    /// Checks everything rumqttc would otherwise panic or fail late on.
    pub fn validate(&self) -> Result<BrokerAddr, SinkError> {
        if self.device.is_empty() || self.device.contains(['/', '+', '#', '\0']) {
            return Err(SinkError::Config(format!(
                "MQTT device name {:?} must be non-empty without '/', '+', '#'",
                self.device
            )));
        }
        let id = self.client_id();
        if id.is_empty() || id.starts_with(' ') {
            return Err(SinkError::Config(format!("bad MQTT client id {id:?}")));
        }
        self.qos()?;
        if self.max_packet_bytes < MIN_PACKET_BYTES {
            return Err(SinkError::Config(format!(
                "MQTT max_packet_bytes = {} is too small: a pose frame needs up to {MIN_PACKET_BYTES}",
                self.max_packet_bytes
            )));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(SinkError::Config(
                "MQTT password given without a username".into(),
            ));
        }
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            return Err(SinkError::Config(
                "MQTT TLS client_cert and client_key go together".into(),
            ));
        }
        parse_broker_url(&self.url)
    }

    /// rumqttc options for this configuration (Last Will included).
    pub fn mqtt_options(&self) -> Result<MqttOptions, SinkError> {
        let addr = self.validate()?;
        let mut o = MqttOptions::new(self.client_id(), addr.host.clone(), addr.port);
        o.set_keep_alive(Duration::from_secs(self.keep_alive_s))
            .set_clean_session(true)
            .set_request_channel_capacity(REQUEST_CHANNEL_CAP)
            .set_max_packet_size(self.max_packet_bytes, self.max_packet_bytes)
            .set_last_will(LastWill::new(
                self.status_topic(),
                STATUS_OFFLINE,
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(user) = &self.username {
            o.set_credentials(user.clone(), self.password.clone().unwrap_or_default());
        }
        if addr.tls {
            self.tls.apply(&self.url, &mut o)?;
        }
        Ok(o)
    }
}

/// Smallest `max_packet_bytes` accepted: one wire frame of the most persons, topic and header.
pub const MIN_PACKET_BYTES: usize = edgepose_wire::MAX_ENCODED_LEN + 512;

/// An upper bound of the MQTT packet that carries `payload` bytes on `topic` (fixed header with
/// the longest remaining-length field, topic length prefix, packet id).
pub fn packet_size(topic: &str, payload: usize) -> usize {
    1 + 4 + 2 + topic.len() + 2 + payload
}

/// 8 random hex digits: std's hasher keys are random (per process, and varied per
/// `RandomState`), mixed with the process id, the time and a counter.
fn random_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:08x}", h.finish() as u32)
}

/// What a connection error most likely means, in words a user can act on.
fn explain(e: &ConnectionError, client_id: &str, max_packet: usize, short_lived: bool) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => match code {
            ConnectReturnCode::BadClientId => {
                format!("broker refused the client id {client_id:?} (identifier rejected)")
            }
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized => {
                "broker refused the login: check sinks.mqtt.username / password and the broker's ACL".into()
            }
            ConnectReturnCode::ServiceUnavailable => "broker says it is unavailable".into(),
            ConnectReturnCode::RefusedProtocolVersion => {
                "broker refused the protocol version (MQTT 3.1.1 is needed)".into()
            }
            ConnectReturnCode::Success => "broker refused the connection".into(),
        },
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(n),
        )) => format!(
            "received a message of {n} bytes, over max_packet_bytes = {max_packet} (the client had to reconnect)"
        ),
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::mqttbytes::Error::OutgoingPacketTooLarge { pkt_size, max },
        )) => format!("a message of {pkt_size} bytes is over max_packet_bytes = {max}"),
        ConnectionError::MqttState(StateError::ConnectionAborted) if short_lived => format!(
            "broker closed the connection right after accepting it: another client with the same \
             client id {client_id:?} is probably connected and taking it over (client ids must \
             be unique per broker)"
        ),
        ConnectionError::MqttState(StateError::ConnectionAborted) => {
            "broker closed the connection (broker stopped or restarted?)".into()
        }
        ConnectionError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "nothing accepts connections there (broker not running, or wrong port?)".into()
        }
        _ => "MQTT connection lost".into(),
    }
}

impl MqttTlsConfig {
    /// Switches `o` to TLS with these files (`url` names the broker in errors).
    #[cfg(feature = "mqtt-tls")]
    pub fn apply(&self, _url: &str, o: &mut MqttOptions) -> Result<(), SinkError> {
        let read = |p: &PathBuf, what: &str| {
            std::fs::read(p).map_err(|source| SinkError::Io {
                context: format!("cannot read MQTT TLS {what} {}", p.display()),
                source,
            })
        };
        let ca = self
            .ca_file
            .as_ref()
            .ok_or_else(|| SinkError::Config("mqtts:// needs tls.ca_file".into()))
            .and_then(|p| read(p, "CA file"))?;
        let client_auth = match (&self.client_cert, &self.client_key) {
            (Some(c), Some(k)) => Some((read(c, "client cert")?, read(k, "client key")?)),
            _ => None,
        };
        o.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        }));
        Ok(())
    }

    /// Without the `mqtt-tls` feature: says how to get TLS.
    #[cfg(not(feature = "mqtt-tls"))]
    pub fn apply(&self, url: &str, _o: &mut MqttOptions) -> Result<(), SinkError> {
        Err(SinkError::Config(format!(
            "{url} needs TLS: rebuild edgepose with `--features mqtt-tls`"
        )))
    }
}

/// One queued frame: the wire bytes and, when enabled, the JSON.
struct Queued {
    wire: Vec<u8>,
    json: Option<Vec<u8>>,
    /// The named camera the frame came from (its own topics), `None` for the single source.
    camera: Option<Arc<str>>,
}

#[derive(Default)]
struct Shared {
    connected: AtomicBool,
    closing: AtomicBool,
    sent: AtomicU64,
    errors: AtomicU64,
    connects: AtomicU64,
    oversize: AtomicU64,
}

type Worker = (JoinHandle<()>, mpsc::Receiver<()>);

/// MQTT sink; see the module docs.
pub struct MqttSink {
    config: MqttConfig,
    client: Client,
    queue: Arc<DropOldestQueue<Queued>>,
    shared: Arc<Shared>,
    workers: Vec<Worker>,
    closed: bool,
}

impl MqttSink {
    /// Validates the configuration and starts connecting in the background (an unreachable
    /// broker is not an error: frames queue and the sink keeps retrying).
    pub fn open(config: MqttConfig) -> Result<Self, SinkError> {
        let options = config.mqtt_options()?;
        let qos = config.qos()?;
        let client_id = options.client_id();
        let (client, connection) = Client::new(options, REQUEST_CHANNEL_CAP);
        let queue = Arc::new(
            DropOldestQueue::new(config.queue_len)
                .with_max_age(Duration::from_millis(config.max_age_ms)),
        );
        let shared = Arc::new(Shared::default());

        let conn = ConnectionLoop {
            connection,
            client: client.clone(),
            status_topic: config.status_topic(),
            url: config.url.clone(),
            backoff: Backoff::new(
                Duration::from_millis(config.reconnect_min_ms),
                Duration::from_millis(config.reconnect_max_ms),
            ),
            queue: Arc::clone(&queue),
            shared: Arc::clone(&shared),
            client_id,
            max_packet: config.max_packet_bytes,
        };
        let conn_worker = spawn("sink-mqtt-conn", move || conn.run())?;
        let publisher = Publisher {
            client: client.clone(),
            config: config.clone(),
            poses_topic: config.poses_topic(),
            json_topic: config.json_topic(),
            qos,
            queue: Arc::clone(&queue),
            shared: Arc::clone(&shared),
            max_packet: config.max_packet_bytes,
            oversize_log: RateLimit::default(),
        };
        let pub_worker = spawn("sink-mqtt-pub", move || publisher.run())?;
        Ok(MqttSink {
            config,
            client,
            queue,
            shared,
            workers: vec![conn_worker, pub_worker],
            closed: false,
        })
    }

    /// Whether the broker connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<Worker, SinkError> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            f();
            let _ = tx.send(());
        })
        .map_err(|source| SinkError::Io {
            context: format!("cannot start thread {name}"),
            source,
        })?;
    Ok((handle, rx))
}

impl Sink for MqttSink {
    fn send(&mut self, frame: &FramePoses) -> Result<(), SinkError> {
        if self.closed {
            return Err(SinkError::Closed);
        }
        let wire = encode_wire(frame, self.config.device_id)?;
        let json = if self.config.json {
            let obj = JsonFrame::from_poses(frame, self.config.device_id);
            Some(serde_json::to_vec(&obj).map_err(|e| SinkError::Encode(format!("JSON: {e}")))?)
        } else {
            None
        };
        let camera = frame.camera.as_ref().map(|c| Arc::clone(&c.name));
        if self.queue.push(Queued { wire, json, camera }) {
            Ok(())
        } else {
            Err(SinkError::Closed)
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.queue.wait_idle(FLUSH_TIMEOUT) {
            Ok(())
        } else {
            Err(SinkError::Timeout("MQTT flush", FLUSH_TIMEOUT))
        }
    }

    fn close(&mut self) -> Result<(), SinkError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let flushed = !self.is_connected() || self.queue.wait_idle(FLUSH_TIMEOUT);
        self.shared.closing.store(true, Ordering::Release);
        self.queue.close();
        // Say goodbye: retained offline, then a clean DISCONNECT (which cancels the Last Will).
        let _ = self.client.try_publish(
            self.config.status_topic(),
            QoS::AtLeastOnce,
            true,
            STATUS_OFFLINE.as_bytes().to_vec(),
        );
        let _ = self.client.try_disconnect();
        let mut stopped = true;
        let deadline = std::time::Instant::now() + CLOSE_TIMEOUT;
        for (handle, done) in self.workers.drain(..) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if done.recv_timeout(left).is_ok() {
                let _ = handle.join();
            } else {
                stopped = false;
            }
        }
        if !stopped {
            tracing::warn!(url = %self.config.url, "MQTT threads did not stop in time; detached");
            return Err(SinkError::Timeout("MQTT close", CLOSE_TIMEOUT));
        }
        if flushed {
            Ok(())
        } else {
            Err(SinkError::Timeout("MQTT close (flush)", FLUSH_TIMEOUT))
        }
    }

    fn stats(&self) -> SinkStats {
        SinkStats {
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.queue.dropped(),
            errors: self.shared.errors.load(Ordering::Relaxed),
            connects: self.shared.connects.load(Ordering::Relaxed),
            stale: self.queue.stale(),
            oversize: self.shared.oversize.load(Ordering::Relaxed),
        }
    }

    fn describe(&self) -> String {
        format!("mqtt:{} ({})", self.config.url, self.config.poses_topic())
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Drives rumqttc's event loop: tracks the connection state, announces `online`, reconnects.
struct ConnectionLoop {
    connection: Connection,
    client: Client,
    status_topic: String,
    url: String,
    backoff: Backoff,
    queue: Arc<DropOldestQueue<Queued>>,
    shared: Arc<Shared>,
    client_id: String,
    max_packet: usize,
}

impl ConnectionLoop {
    fn run(mut self) {
        let mut outage = false;
        // When the current connection was accepted.
        let mut connected_at: Option<std::time::Instant> = None;
        // A broker that drops us right after every connect must not log a line per cycle.
        let mut lost_log = RateLimit::default();
        let mut back_log = RateLimit::default();
        loop {
            let closing = || self.shared.closing.load(Ordering::Acquire);
            // `recv` returns within the connection timeout while disconnected and at least
            // once per keep-alive while connected; it ends when every client handle is gone.
            let Ok(event) = self.connection.recv() else {
                break;
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    self.shared.connected.store(true, Ordering::Release);
                    self.shared.connects.fetch_add(1, Ordering::Relaxed);
                    connected_at = Some(std::time::Instant::now());
                    if outage {
                        if let Some(n) = back_log.hit() {
                            tracing::info!(url = %self.url, repeated = n, "MQTT broker reconnected");
                        }
                    }
                    outage = false;
                    let _ = self.client.try_publish(
                        self.status_topic.clone(),
                        QoS::AtLeastOnce,
                        true,
                        STATUS_ONLINE.as_bytes().to_vec(),
                    );
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    self.shared.connected.store(false, Ordering::Release);
                    if closing() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    self.shared.connected.store(false, Ordering::Release);
                    if closing() {
                        break;
                    }
                    self.shared.errors.fetch_add(1, Ordering::Relaxed);
                    let lived = connected_at.take().map(|t| t.elapsed());
                    let short_lived = lived.is_some_and(|d| d < TAKEOVER_WINDOW);
                    // A connection that held for a while resets the delays; one dropped at once
                    // keeps backing off (a takeover fight slows down instead of spinning).
                    if lived.is_some_and(|d| d >= TAKEOVER_WINDOW) {
                        self.backoff.reset();
                    }
                    if !outage || lived.is_some() {
                        let why = explain(&e, &self.client_id, self.max_packet, short_lived);
                        if let Some(repeated) = lost_log.hit() {
                            tracing::warn!(repeated, url = %self.url, error = %e, "{why}; reconnecting with backoff");
                        }
                        outage = true;
                    }
                    // Closing the queue (sink closed) cuts the wait short.
                    if self.queue.sleep_unless_closed(self.backoff.next_delay()) {
                        break;
                    }
                }
            }
        }
        self.shared.connected.store(false, Ordering::Release);
    }
}

/// Moves frames from the queue into rumqttc while connected.
struct Publisher {
    client: Client,
    /// For the topics of named cameras.
    config: MqttConfig,
    poses_topic: String,
    json_topic: String,
    qos: QoS,
    queue: Arc<DropOldestQueue<Queued>>,
    shared: Arc<Shared>,
    max_packet: usize,
    oversize_log: RateLimit,
}

impl Publisher {
    /// Whether `payload` fits in one packet on `topic`; counts and logs (rate-limited) one
    /// that does not.
    fn fits(&mut self, topic: &str, payload: usize) -> bool {
        let size = packet_size(topic, payload);
        if size <= self.max_packet {
            return true;
        }
        self.shared.oversize.fetch_add(1, Ordering::Relaxed);
        if let Some(repeated) = self.oversize_log.hit() {
            tracing::warn!(repeated, topic,
            "MQTT message of {size} bytes is over sinks.mqtt.max_packet_bytes = {}: not sent (raise the limit; the broker's own limit may apply too)",
            self.max_packet);
        }
        false
    }

    /// Publishes the JSON twin of a frame that just went out. The request channel is small,
    /// so it may be full for a moment: wait for room while connected rather than lose it.
    fn publish_json(&self, mut json: Vec<u8>, camera: Option<&str>) {
        let topic = match camera {
            Some(_) => self.config.camera_json_topic(camera),
            None => self.json_topic.clone(),
        };
        loop {
            match self
                .client
                .try_publish(topic.clone(), self.qos, false, json)
            {
                Ok(()) => return,
                // The refused request carries the payload back: no copy on the common path.
                Err(rumqttc::ClientError::TryRequest(rumqttc::Request::Publish(p)))
                | Err(rumqttc::ClientError::Request(rumqttc::Request::Publish(p))) => {
                    json = p.payload.into();
                }
                Err(_) => return,
            }
            if !self.shared.connected.load(Ordering::Acquire) || self.queue.is_closed() {
                return;
            }
            std::thread::sleep(JSON_RETRY_INTERVAL);
        }
    }

    fn run(mut self) {
        loop {
            if !self.shared.connected.load(Ordering::Acquire) {
                // While disconnected frames stay in (and overflow from) our queue.
                if self.queue.sleep_unless_closed(POLL_INTERVAL) {
                    return;
                }
                continue;
            }
            let Some(mut item) = self.queue.pop(POLL_INTERVAL) else {
                if self.queue.is_closed() {
                    return;
                }
                continue;
            };
            let topic = match item.camera.as_deref() {
                Some(c) => self.config.camera_poses_topic(Some(c)),
                None => self.poses_topic.clone(),
            };
            if let Some(json) = &item.json {
                let json_topic = self.config.camera_json_topic(item.camera.as_deref());
                if !self.fits(&json_topic, json.len()) {
                    item.json = None;
                }
            }
            if !self.fits(&topic, item.wire.len()) {
                self.queue.done();
                continue;
            }
            match self
                .client
                .try_publish(topic, self.qos, false, item.wire.clone())
            {
                Ok(()) => {
                    self.shared.sent.fetch_add(1, Ordering::Relaxed);
                    if let Some(json) = item.json {
                        self.publish_json(json, item.camera.as_deref());
                    }
                    self.queue.done();
                }
                Err(_) => {
                    // rumqttc's request channel is full (event loop busy or reconnecting).
                    self.queue.requeue(item);
                    if self.queue.sleep_unless_closed(POLL_INTERVAL) {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let a = parse_broker_url("mqtt://127.0.0.1:1884").expect("valid");
        assert_eq!((a.host.as_str(), a.port, a.tls), ("127.0.0.1", 1884, false));
        let a = parse_broker_url("mqtts://broker.local").expect("valid");
        assert_eq!((a.port, a.tls), (8883, true));
        let a = parse_broker_url("[::1]:2000").expect("valid");
        assert_eq!((a.host.as_str(), a.port), ("::1", 2000));
        assert_eq!(
            parse_broker_url("localhost").map(|a| a.port).ok(),
            Some(1883)
        );
        for bad in [
            "http://x",
            "mqtt://:1883",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtt://h/x",
        ] {
            let e = parse_broker_url(bad).expect_err(bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn config_validation_and_topics() {
        let c: MqttConfig =
            toml::from_str("url = \"mqtt://10.0.0.2\"\ndevice = \"cam1\"\nqos = 1\njson = true")
                .expect("parses");
        assert_eq!(c.poses_topic(), "edgepose/cam1/poses");
        assert_eq!(c.status_topic(), "edgepose/cam1/status");
        assert!(c.mqtt_options().is_ok());
        assert!(toml::from_str::<MqttConfig>("topic = \"x\"").is_err());
        let bad = |f: fn(&mut MqttConfig)| {
            let mut c = MqttConfig::default();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(|c| c.device = "a/b".into()));
        assert!(bad(|c| c.qos = 3));
        assert!(bad(|c| c.client_id = Some(String::new())));
        assert!(bad(|c| c.password = Some("pw".into())));
        assert!(bad(|c| c.tls.client_cert = Some("c.pem".into())));
    }

    #[cfg(not(feature = "mqtt-tls"))]
    #[test]
    fn tls_url_without_feature_is_a_clear_error() {
        let c = MqttConfig {
            url: "mqtts://broker".into(),
            ..MqttConfig::default()
        };
        let e = c.mqtt_options().expect_err("no TLS support compiled in");
        assert!(e.to_string().contains("mqtt-tls"), "{e}");
    }
}

#[cfg(test)]
mod limits_tests {
    use super::*;
    use edgepose_decoder::{Keypoint, Person, MAX_PERSONS};

    #[test]
    fn default_client_ids_are_unique() {
        let c = MqttConfig::default();
        let id = c.client_id();
        assert!(id.starts_with("edgepose-edgepose-"), "{id}");
        assert_eq!(id.len(), "edgepose-edgepose-".len() + 8);
        assert_ne!(c.client_id(), id, "two sinks of one config get two ids");
        // The options (what a sink connects with, through every reconnect) hold one.
        let o = c.mqtt_options().expect("options");
        assert!(o.client_id().starts_with("edgepose-edgepose-"));
        let fixed = MqttConfig {
            client_id: Some("robot-7".into()),
            ..MqttConfig::default()
        };
        assert_eq!(fixed.client_id(), "robot-7");
    }

    #[test]
    fn connection_errors_are_explained() {
        let aborted = ConnectionError::MqttState(StateError::ConnectionAborted);
        let why = explain(&aborted, "cam-1", 1000, true);
        assert!(why.contains("same client id \"cam-1\""), "{why}");
        let why = explain(&aborted, "cam-1", 1000, false);
        assert!(
            why.contains("closed the connection") && !why.contains("client id"),
            "{why}"
        );
        let refused = ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized);
        assert!(explain(&refused, "x", 1000, false).contains("username"));
        let big = ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(5000),
        ));
        let why = explain(&big, "x", 1000, false);
        assert!(
            why.contains("5000 bytes") && why.contains("max_packet_bytes = 1000"),
            "{why}"
        );
    }

    #[test]
    fn the_biggest_json_frame_fits_the_default_packet_size() {
        let mut f = FramePoses::default();
        for i in 0..MAX_PERSONS {
            let mut p = Person {
                score: 0.123_456_79,
                track_id: u32::MAX - i as u32,
                ..Person::default()
            };
            for k in p.keypoints.iter_mut() {
                // Long decimal expansions: the worst case for the JSON's length.
                *k = Keypoint::new(-12_345.679, 98_765.43, 0.333_333_34);
            }
            let _ = f.persons.push(p);
        }
        f.seq = u64::MAX;
        f.timestamp_us = u64::MAX;
        let json = serde_json::to_vec(&JsonFrame::from_poses(&f, u32::MAX)).expect("json");
        let c = MqttConfig {
            device: "a-rather-long-device-name-for-the-topic".into(),
            ..MqttConfig::default()
        };
        let size = packet_size(&c.json_topic(), json.len());
        assert!(
            size <= DEFAULT_MAX_PACKET_BYTES && size > 10_240,
            "{} persons: {size} bytes (rumqttc's own default is 10240)",
            MAX_PERSONS
        );
        assert!(MqttConfig {
            max_packet_bytes: 1000,
            ..MqttConfig::default()
        }
        .validate()
        .is_err());
    }
}
