//! Poses into a ROS 2 graph, with no ROS installation on the board (cargo feature `ros2`).
//!
//! A pure-Rust DDS participant ([`ros2-client`](https://crates.io/crates/ros2-client) over
//! RustDDS) appears as a ROS 2 node (default `/edgepose`) and publishes standard messages, so
//! the robot needs only the `hri_msgs` and `vision_msgs` packages of its distribution:
//!
//! | topic (relative to `namespace`)   | type                                   |
//! |-----------------------------------|----------------------------------------|
//! | `humans/bodies/tracked`           | `hri_msgs/msg/IdsList`                 |
//! | `humans/bodies/<id>/skeleton2d`   | `hri_msgs/msg/Skeleton2D`              |
//! | `humans/bodies/<id>/roi`          | `hri_msgs/msg/NormalizedRegionOfInterest2D` |
//! | `detections`                      | `vision_msgs/msg/Detection2DArray`     |
//!
//! With the default namespace `/` these are the ROS4HRI (REP-155) names
//! `/humans/bodies/...`. Frames of a named camera (`[sources.<name>]`) publish one level
//! deeper, under `<namespace>/<name>/...` ([`camera_namespace`]), so cameras never mix. Body ids are `b<track id>` ([`msg::body_id`]); skeleton points are
//! normalised to the image, in hri_msgs order, the neck derived from the shoulders, and a
//! missing keypoint is `x = y = c = 0` (see [`msg`]). Headers carry the capture time and the
//! configured `frame_id`.
//!
//! QoS of every topic: reliable, volatile, keep-last [`HISTORY_DEPTH`] — the ROS 2 default
//! profile, which matches both reliable and best-effort (sensor-data) subscribers.

pub mod msg;

#[cfg(feature = "ros2")]
mod node;
#[cfg(feature = "ros2")]
pub use node::Ros2Sink;

use super::SinkError;
use serde::Deserialize;

/// Environment variable ROS 2 uses for the DDS domain.
pub const DOMAIN_ENV: &str = "ROS_DOMAIN_ID";
/// Largest domain id whose RTPS ports fit in 16 bits (ROS 2's documented limit is 232).
pub const MAX_DOMAIN_ID: u16 = 232;
/// Keep-last depth of every publisher (the ROS 2 default profile's).
pub const HISTORY_DEPTH: usize = 10;

/// `[sinks.ros2]` settings; an empty table publishes on the `ROS_DOMAIN_ID` domain (or 0) as
/// node `/edgepose` under the root namespace.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ros2Config {
    /// DDS domain; default `$ROS_DOMAIN_ID`, or 0 when unset.
    pub domain_id: Option<u16>,
    /// Namespace of the node and its topics: `/` (ROS4HRI's `/humans/...`) or `/robot/cam1`.
    pub namespace: String,
    /// Node name (one ROS name token).
    pub node_name: String,
    /// `header.frame_id` of every message: the camera's TF frame on the robot.
    pub frame_id: String,
    /// Frames queued for the publisher thread; beyond that the oldest are dropped.
    pub queue_len: usize,
}

impl Default for Ros2Config {
    fn default() -> Self {
        Ros2Config {
            domain_id: None,
            namespace: "/".into(),
            node_name: "edgepose".into(),
            frame_id: "camera".into(),
            queue_len: 4,
        }
    }
}

impl Ros2Config {
    /// The domain to join: the configured one, else `$ROS_DOMAIN_ID`, else 0.
    pub fn domain(&self) -> Result<u16, SinkError> {
        let id = match self.domain_id {
            Some(id) => id,
            None => match std::env::var(DOMAIN_ENV) {
                Ok(v) if !v.trim().is_empty() => v.trim().parse::<u16>().map_err(|_| {
                    SinkError::Config(format!("{DOMAIN_ENV}={v:?} is not a domain id"))
                })?,
                _ => 0,
            },
        };
        if id > MAX_DOMAIN_ID {
            return Err(SinkError::Config(format!(
                "ROS 2 domain id {id} is above {MAX_DOMAIN_ID}"
            )));
        }
        Ok(id)
    }

    /// Checks names the way ROS 2 does (tokens of `[A-Za-z_][A-Za-z0-9_]*`), the domain, and
    /// that this build has the `ros2` feature.
    pub fn validate(&self) -> Result<(), SinkError> {
        self.domain()?;
        let ns = self.namespace.strip_prefix('/').ok_or_else(|| {
            SinkError::Config(format!(
                "ROS 2 namespace {:?} must start with '/'",
                self.namespace
            ))
        })?;
        if !ns.is_empty() && !ns.split('/').all(is_ros_token) {
            return Err(SinkError::Config(format!(
                "ROS 2 namespace {:?}: each part must be letters, digits, '_', not starting \
                 with a digit",
                self.namespace
            )));
        }
        if !is_ros_token(&self.node_name) {
            return Err(SinkError::Config(format!(
                "ROS 2 node name {:?} must be letters, digits, '_', not starting with a digit",
                self.node_name
            )));
        }
        if self.frame_id.contains('\0') {
            return Err(SinkError::Config("ROS 2 frame_id contains NUL".into()));
        }
        if cfg!(feature = "ros2") {
            Ok(())
        } else {
            Err(SinkError::Config(
                "[sinks.ros2] needs edgepose built with the `ros2` cargo feature \
                 (the board builds and the .deb have it)"
                    .into(),
            ))
        }
    }

    /// A topic under the namespace: `/<namespace>/<rel>`.
    pub fn topic(&self, rel: &str) -> String {
        let ns = self.namespace.trim_end_matches('/');
        format!("{ns}/{rel}")
    }
}

/// The namespace level of a named camera (`[sources.<name>]`): its name made a ROS 2 name
/// token (`-` becomes `_`; a leading digit gets a `cam_` prefix).
pub fn camera_namespace(name: &str) -> String {
    let token: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if token.starts_with(|c: char| c.is_ascii_digit()) || token.is_empty() {
        format!("cam_{token}")
    } else {
        token
    }
}

/// One ROS 2 name token: `[A-Za-z_][A-Za-z0-9_]*`, no `__` (ROS 2 rejects double underscores).
fn is_ros_token(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.contains("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_the_default() {
        let c: Ros2Config = toml::from_str("").expect("parses");
        assert_eq!(c, Ros2Config::default());
        assert_eq!(c.topic("humans/bodies/tracked"), "/humans/bodies/tracked");
        let c = Ros2Config {
            namespace: "/robot/cam1".into(),
            ..Ros2Config::default()
        };
        assert_eq!(c.topic("detections"), "/robot/cam1/detections");
    }

    #[test]
    fn names_and_domains_are_checked() {
        let bad = |c: Ros2Config, what: &str| {
            let e = c.validate().expect_err(what).to_string();
            assert!(e.contains(what), "{e}");
        };
        let ok = Ros2Config::default();
        bad(
            Ros2Config {
                namespace: "robot".into(),
                ..ok.clone()
            },
            "must start with '/'",
        );
        bad(
            Ros2Config {
                namespace: "/robot/1cam".into(),
                ..ok.clone()
            },
            "namespace",
        );
        bad(
            Ros2Config {
                node_name: "edge-pose".into(),
                ..ok.clone()
            },
            "node name",
        );
        bad(
            Ros2Config {
                domain_id: Some(233),
                ..ok.clone()
            },
            "above 232",
        );
        assert!(
            toml::from_str::<Ros2Config>("domain = 3").is_err(),
            "unknown keys"
        );
        let r = ok.validate();
        assert_eq!(r.is_ok(), cfg!(feature = "ros2"), "{r:?}");
        if let Err(e) = r {
            assert!(e.to_string().contains("`ros2` cargo feature"), "{e}");
        }
    }

    #[test]
    fn camera_names_become_ros_tokens() {
        assert_eq!(camera_namespace("front"), "front");
        assert_eq!(camera_namespace("rear-left"), "rear_left");
        assert_eq!(camera_namespace("2nd"), "cam_2nd");
        assert!(is_ros_token(&camera_namespace("rear-left")));
    }

    #[test]
    fn explicit_domain_wins_over_the_environment() {
        let c = Ros2Config {
            domain_id: Some(7),
            ..Ros2Config::default()
        };
        assert_eq!(c.domain().expect("valid"), 7);
    }
}
