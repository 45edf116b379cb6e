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
//! and counted). A publisher thread hands queued frames to rumqttc while connected; a
//! connection thread drives rumqttc's event loop and reconnects with exponential backoff.

use super::queue::DropOldestQueue;
use super::{encode_wire, Sink, SinkError, SinkStats};
use crate::pose::FramePoses;
use crate::pose::JsonFrame;
use crate::util::Backoff;
use rumqttc::{Client, Connection, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
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
    /// MQTT client id; default `edgepose-<device>`. Must be unique per broker.
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

    fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("edgepose-{}", self.device))
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
        let (client, connection) = Client::new(options, REQUEST_CHANNEL_CAP);
        let queue = Arc::new(DropOldestQueue::new(config.queue_len));
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
}

impl ConnectionLoop {
    fn run(mut self) {
        let mut outage = false;
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
                    self.backoff.reset();
                    if outage {
                        tracing::info!(url = %self.url, "MQTT broker reconnected");
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
                    if !outage {
                        tracing::warn!(url = %self.url, error = %e, "MQTT connection lost; reconnecting with backoff");
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
}

impl Publisher {
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

    fn run(self) {
        loop {
            if !self.shared.connected.load(Ordering::Acquire) {
                // While disconnected frames stay in (and overflow from) our queue.
                if self.queue.sleep_unless_closed(POLL_INTERVAL) {
                    return;
                }
                continue;
            }
            let Some(item) = self.queue.pop(POLL_INTERVAL) else {
                if self.queue.is_closed() {
                    return;
                }
                continue;
            };
            let topic = match item.camera.as_deref() {
                Some(c) => self.config.camera_poses_topic(Some(c)),
                None => self.poses_topic.clone(),
            };
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
