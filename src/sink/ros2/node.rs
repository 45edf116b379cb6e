//! The DDS side of the ROS 2 sink: a ros2-client node on a publisher thread.
//!
//! `send` only queues the frame (bounded, oldest dropped). The thread owns the DDS participant
//! and every publisher, so nothing DDS-related crosses threads. Per-body publishers are created
//! when a body first appears and dropped after it has been gone for [`BODY_LINGER`] (a body
//! that flickers out for a frame keeps its DDS writer: no rediscovery churn), with at most
//! [`MAX_BODY_PUBLISHERS`] bodies at a time.

use super::msg::{self, Detection2DArray, IdsList, NormalizedRegionOfInterest2D, Skeleton2D};
use super::{camera_namespace, Ros2Config, HISTORY_DEPTH};
use crate::pose::FramePoses;
use crate::sink::queue::DropOldestQueue;
use crate::sink::{Sink, SinkError, SinkStats};
use crate::util::ratelimit::RateLimit;
use ros2_client::{
    Context, ContextOptions, MessageTypeName, Name, Node, NodeName, NodeOptions, Publisher,
    QosProfile,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long `open` waits for the participant to come up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Publisher thread poll interval while idle.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Bounds on `flush` and on the clean shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// A reliable publish waits at most this long for a slow subscriber's acknowledgements before
/// the sample is counted as an error (frames keep coming; waiting longer only adds latency).
const PUBLISH_WAIT: Duration = Duration::from_millis(20);
/// A body's publishers outlive its last appearance by this much.
pub const BODY_LINGER: Duration = Duration::from_secs(3);
/// Most bodies with publishers at once (the oldest-seen absent ones go first).
pub const MAX_BODY_PUBLISHERS: usize = 2 * edgepose_decoder::MAX_PERSONS;

/// ROS 2 sink; see the module docs of [`super`].
pub struct Ros2Sink {
    config: Ros2Config,
    domain: u16,
    queue: Arc<DropOldestQueue<FramePoses>>,
    shared: Arc<Shared>,
    worker: Option<(JoinHandle<()>, mpsc::Receiver<()>)>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    sent: AtomicU64,
    errors: AtomicU64,
}

impl Ros2Sink {
    /// Joins the domain and creates the node; fails when the configuration is invalid or the
    /// DDS participant cannot start (no usable network interface, ports taken).
    pub fn open(config: Ros2Config) -> Result<Self, SinkError> {
        config.validate()?;
        let domain = config.domain()?;
        let queue = Arc::new(DropOldestQueue::new(config.queue_len));
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let thread_config = config.clone();
        let thread_queue = Arc::clone(&queue);
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("sink-ros2".into())
            .spawn(move || {
                match Publishers::create(&thread_config, domain) {
                    Ok(mut p) => {
                        let _ = ready_tx.send(Ok(()));
                        p.run(&thread_queue, &thread_shared);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
                let _ = done_tx.send(());
            })
            .map_err(|source| SinkError::Io {
                context: "cannot start thread sink-ros2".into(),
                source,
            })?;
        match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(e);
            }
            Err(_) => {
                queue.close();
                return Err(SinkError::Timeout("ROS 2 participant start", OPEN_TIMEOUT));
            }
        }
        tracing::info!(
            domain,
            node = %format!("{}/{}", config.namespace.trim_end_matches('/'), config.node_name),
            "ROS 2 node up"
        );
        Ok(Ros2Sink {
            config,
            domain,
            queue,
            shared,
            worker: Some((handle, done_rx)),
            closed: false,
        })
    }
}

impl Sink for Ros2Sink {
    fn send(&mut self, frame: &FramePoses) -> Result<(), SinkError> {
        if self.closed || !self.queue.push(frame.clone()) {
            return Err(SinkError::Closed);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.queue.wait_idle(FLUSH_TIMEOUT) {
            Ok(())
        } else {
            Err(SinkError::Timeout("ROS 2 flush", FLUSH_TIMEOUT))
        }
    }

    fn close(&mut self) -> Result<(), SinkError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let flushed = self.queue.wait_idle(FLUSH_TIMEOUT);
        self.queue.close();
        if let Some((handle, done)) = self.worker.take() {
            if done.recv_timeout(CLOSE_TIMEOUT).is_ok() {
                let _ = handle.join();
            } else {
                tracing::warn!("ROS 2 publisher thread did not stop in time; detached");
                return Err(SinkError::Timeout("ROS 2 close", CLOSE_TIMEOUT));
            }
        }
        if flushed {
            Ok(())
        } else {
            Err(SinkError::Timeout("ROS 2 close (flush)", FLUSH_TIMEOUT))
        }
    }

    fn stats(&self) -> SinkStats {
        SinkStats {
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.queue.dropped(),
            errors: self.shared.errors.load(Ordering::Relaxed),
            ..SinkStats::default()
        }
    }

    fn describe(&self) -> String {
        format!(
            "ros2:domain {} {}",
            self.domain,
            self.config.topic("humans/bodies")
        )
    }
}

impl Drop for Ros2Sink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

struct BodyPublishers {
    skeleton: Publisher<Skeleton2D>,
    roi: Publisher<NormalizedRegionOfInterest2D>,
    last_seen: Instant,
}

/// One camera's topics: `<namespace>[/<camera>]/humans/bodies/...`, `.../detections`.
struct CameraPublishers {
    /// Topic prefix relative to the namespace: "" or "<camera>/".
    prefix: String,
    tracked: Publisher<IdsList>,
    detections: Publisher<Detection2DArray>,
    bodies: HashMap<String, BodyPublishers>,
}

/// Everything DDS, owned by the publisher thread. Field order is drop order: publishers go
/// before the node, the node before the participant.
struct Publishers {
    /// Keyed by camera name; `None` is the single `[source]`.
    cameras: HashMap<Option<Arc<str>>, CameraPublishers>,
    node: Node,
    _context: Context,
    config: Ros2Config,
    qos: QosProfile,
    /// Publish errors are counted; their warnings are rate-limited (no log floods).
    warn_limit: RateLimit,
}

fn dds_error(what: &str, e: impl std::fmt::Debug) -> SinkError {
    SinkError::Config(format!("ROS 2 {what}: {e:?}"))
}

/// ROS 2's default QoS profile, with a bounded wait when a reliable reader lags.
fn qos() -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(ros2_client::qos::WhenFull::Wait(PUBLISH_WAIT))
        .durability(ros2_client::qos::Durability::Volatile)
        .history(ros2_client::qos::History::KeepLast {
            depth: HISTORY_DEPTH,
        })
}

impl Publishers {
    fn create(config: &Ros2Config, domain: u16) -> Result<Self, SinkError> {
        let context = Context::with_options(ContextOptions::new().domain_id(domain))
            .map_err(|e| dds_error(&format!("participant on domain {domain}"), e))?;
        let node_name = NodeName::new(&config.namespace, &config.node_name)
            .map_err(|e| dds_error("node name", e))?;
        let node = context
            .new_node(node_name, NodeOptions::new().enable_rosout(false))
            .map_err(|e| dds_error("node", e))?;
        let mut p = Publishers {
            cameras: HashMap::new(),
            node,
            _context: context,
            config: config.clone(),
            qos: qos(),
            warn_limit: RateLimit::default(),
        };
        // The single camera's topics exist from the start (and prove the names work).
        let single = p.camera_publishers(None)?;
        p.cameras.insert(None, single);
        Ok(p)
    }

    fn camera_publishers(&mut self, camera: Option<&str>) -> Result<CameraPublishers, SinkError> {
        let prefix = camera.map_or(String::new(), |c| format!("{}/", camera_namespace(c)));
        Ok(CameraPublishers {
            tracked: publisher(
                &mut self.node,
                &self.config.topic(&format!("{prefix}humans/bodies/tracked")),
                "hri_msgs",
                "IdsList",
                &self.qos,
            )?,
            detections: publisher(
                &mut self.node,
                &self.config.topic(&format!("{prefix}detections")),
                "vision_msgs",
                "Detection2DArray",
                &self.qos,
            )?,
            bodies: HashMap::new(),
            prefix,
        })
    }

    fn run(&mut self, queue: &DropOldestQueue<FramePoses>, shared: &Shared) {
        loop {
            match queue.pop(POLL_INTERVAL) {
                Some(frame) => {
                    let errors = self.publish(&frame);
                    if errors == 0 {
                        shared.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    shared.errors.fetch_add(errors, Ordering::Relaxed);
                    queue.done();
                }
                None if queue.is_closed() => break,
                None => {}
            }
        }
        // Everyone has left as far as the robot is concerned.
        let goodbye = IdsList {
            header: msg::Header {
                stamp: msg::Time::from_micros(now_us()),
                frame_id: self.config.frame_id.clone(),
            },
            ids: Vec::new(),
        };
        for cam in self.cameras.values() {
            let _ = cam.tracked.publish(goodbye.clone());
        }
    }

    /// Publishes one frame; returns the number of failed publishes.
    fn publish(&mut self, frame: &FramePoses) -> u64 {
        let key = frame.camera.as_ref().map(|c| Arc::clone(&c.name));
        if !self.cameras.contains_key(&key) {
            match self.camera_publishers(key.as_deref()) {
                Ok(c) => {
                    self.cameras.insert(key.clone(), c);
                }
                Err(e) => {
                    self.warn(&e.to_string());
                    return 1;
                }
            }
        }
        let m = msg::frame_messages(frame, &self.config.frame_id);
        let now = Instant::now();
        let mut errors = 0;
        let mut failures = Vec::new();
        let Some(mut cam) = self.cameras.remove(&key) else {
            return 1;
        };
        for body in &m.bodies {
            if !cam.bodies.contains_key(&body.id) {
                match self.body_publishers(&cam.prefix, &body.id, now) {
                    Ok(p) => {
                        cam.bodies.insert(body.id.clone(), p);
                    }
                    Err(e) => {
                        errors += 1;
                        failures.push(e.to_string());
                        continue;
                    }
                }
            }
            let Some(p) = cam.bodies.get_mut(&body.id) else {
                continue;
            };
            p.last_seen = now;
            let r1 = p
                .skeleton
                .publish(body.skeleton.clone())
                .map_err(|e| e.to_string());
            let r2 = p.roi.publish(body.roi.clone()).map_err(|e| e.to_string());
            for r in [r1, r2] {
                if let Err(e) = r {
                    errors += 1;
                    failures.push(format!("publishing body {}: {e}", body.id));
                }
            }
        }
        if let Err(e) = cam.tracked.publish(m.tracked) {
            errors += 1;
            failures.push(format!("publishing tracked ids: {e}"));
        }
        if let Err(e) = cam.detections.publish(m.detections) {
            errors += 1;
            failures.push(format!("publishing detections: {e}"));
        }
        forget_old_bodies(&mut cam.bodies, now);
        self.cameras.insert(key, cam);
        if let Some(first) = failures.first() {
            self.warn(first);
        }
        errors
    }

    fn body_publishers(
        &mut self,
        prefix: &str,
        id: &str,
        now: Instant,
    ) -> Result<BodyPublishers, SinkError> {
        let base = format!("{prefix}humans/bodies/{id}");
        Ok(BodyPublishers {
            skeleton: publisher(
                &mut self.node,
                &self.config.topic(&format!("{base}/skeleton2d")),
                "hri_msgs",
                "Skeleton2D",
                &self.qos,
            )?,
            roi: publisher(
                &mut self.node,
                &self.config.topic(&format!("{base}/roi")),
                "hri_msgs",
                "NormalizedRegionOfInterest2D",
                &self.qos,
            )?,
            last_seen: now,
        })
    }

    fn warn(&mut self, what: &str) {
        if let Some(repeated) = self.warn_limit.hit() {
            tracing::warn!(repeated, "ROS 2 sink: {what}");
        }
    }
}

/// Drops publishers of bodies gone for [`BODY_LINGER`], then the longest-gone beyond
/// [`MAX_BODY_PUBLISHERS`].
fn forget_old_bodies(bodies: &mut HashMap<String, BodyPublishers>, now: Instant) {
    bodies.retain(|_, p| now.duration_since(p.last_seen) < BODY_LINGER);
    while bodies.len() > MAX_BODY_PUBLISHERS {
        let oldest = bodies
            .iter()
            .min_by_key(|(_, p)| p.last_seen)
            .map(|(id, _)| id.clone());
        match oldest {
            Some(id) => {
                bodies.remove(&id);
            }
            None => break,
        }
    }
}

fn publisher<M: serde::Serialize>(
    node: &mut Node,
    topic: &str,
    package: &str,
    type_name: &str,
    qos: &QosProfile,
) -> Result<Publisher<M>, SinkError> {
    let name = Name::parse(topic).map_err(|e| dds_error(&format!("topic name {topic:?}"), e))?;
    let topic_obj = node
        .create_topic(&name, MessageTypeName::new(package, type_name), qos)
        .map_err(|e| dds_error(&format!("topic {topic}"), e))?;
    node.create_publisher(&topic_obj, None)
        .map_err(|e| dds_error(&format!("publisher {topic}"), e))
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
