//! The ROS 2 messages the sink publishes, as plain structs in the field order of their `.msg`
//! definitions: serialised with serde into CDR they are byte-for-byte what `rclcpp`/`rclpy`
//! publishers of the same types send, so a robot needs only the `hri_msgs` and `vision_msgs`
//! packages of its distribution (Humble and Jazzy both have `hri_msgs` 2.x and
//! `vision_msgs` 4.x, whose layouts these are).
//!
//! Also the conversion from [`FramePoses`]: keypoints normalised to the image size, COCO-17
//! reordered into `hri_msgs/Skeleton2D`'s 18 points with a derived neck.

use crate::pose::FramePoses;
use edgepose_decoder::{Keypoint, Person};
use serde::ser::{Serialize, SerializeTuple, Serializer};

/// Points in `hri_msgs/Skeleton2D.skeleton` (a fixed-size array: no length on the wire).
pub const SKELETON_POINTS: usize = 18;
/// `hri_msgs/Skeleton2D` index of the neck, which COCO-17 lacks.
pub const NECK: usize = 1;
/// COCO-17 left and right shoulder: the neck is their midpoint.
const COCO_LEFT_SHOULDER: usize = 5;
const COCO_RIGHT_SHOULDER: usize = 6;

/// COCO-17 keypoint for each `hri_msgs/Skeleton2D` index (`NOSE = 0` ... `RIGHT_EAR = 17`);
/// `None` for the neck. Note the tail: hri_msgs puts LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR
/// at 14..17, the reverse of OpenPose's 18-point order (right before left) that
/// [`edgepose_decoder::skeleton::COCO17_FROM_18`] maps; the two tables are not interchangeable.
pub const COCO17_FOR_HRI: [Option<usize>; SKELETON_POINTS] = [
    Some(0),  // NOSE
    None,     // NECK
    Some(6),  // RIGHT_SHOULDER
    Some(8),  // RIGHT_ELBOW
    Some(10), // RIGHT_WRIST
    Some(5),  // LEFT_SHOULDER
    Some(7),  // LEFT_ELBOW
    Some(9),  // LEFT_WRIST
    Some(12), // RIGHT_HIP
    Some(14), // RIGHT_KNEE
    Some(16), // RIGHT_ANKLE
    Some(11), // LEFT_HIP
    Some(13), // LEFT_KNEE
    Some(15), // LEFT_ANKLE
    Some(1),  // LEFT_EYE
    Some(2),  // RIGHT_EYE
    Some(3),  // LEFT_EAR
    Some(4),  // RIGHT_EAR
];

/// `vision_msgs/ObjectHypothesis.class_id` of every detection.
pub const PERSON_CLASS: &str = "person";

/// `builtin_interfaces/Time`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}

impl Time {
    /// Microseconds since the Unix epoch; seconds saturate at `i32::MAX` (year 2038).
    pub fn from_micros(us: u64) -> Time {
        Time {
            sec: i32::try_from(us / 1_000_000).unwrap_or(i32::MAX),
            // < 1e9: fits.
            nanosec: ((us % 1_000_000) * 1_000) as u32,
        }
    }
}

/// `std_msgs/Header`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Header {
    pub stamp: Time,
    pub frame_id: String,
}

/// `hri_msgs/IdsList`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct IdsList {
    pub header: Header,
    pub ids: Vec<String>,
}

/// `hri_msgs/NormalizedPointOfInterest2D`: x, y in [0, 1] of the image size, `c` confidence.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct NormalizedPointOfInterest2D {
    pub x: f32,
    pub y: f32,
    pub c: f32,
}

/// `hri_msgs/Skeleton2D`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Skeleton2D {
    pub header: Header,
    pub skeleton: [NormalizedPointOfInterest2D; SKELETON_POINTS],
}

/// `hri_msgs/NormalizedRegionOfInterest2D`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct NormalizedRegionOfInterest2D {
    pub header: Header,
    pub xmin: f32,
    pub ymin: f32,
    pub xmax: f32,
    pub ymax: f32,
    pub c: f32,
}

/// `geometry_msgs/Point`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// `geometry_msgs/Quaternion` (the identity by default, as in ROS).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Quaternion {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub w: f64,
}

impl Default for Quaternion {
    fn default() -> Self {
        Quaternion {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            w: 1.0,
        }
    }
}

/// `geometry_msgs/Pose`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Pose {
    pub position: Point,
    pub orientation: Quaternion,
}

/// `float64[36]`: serde derives arrays up to 32 elements only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Covariance(pub [f64; 36]);

impl Default for Covariance {
    fn default() -> Self {
        Covariance([0.0; 36])
    }
}

impl Serialize for Covariance {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len())?;
        for v in &self.0 {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

/// `geometry_msgs/PoseWithCovariance`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct PoseWithCovariance {
    pub pose: Pose,
    pub covariance: Covariance,
}

/// `vision_msgs/ObjectHypothesis`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ObjectHypothesis {
    pub class_id: String,
    pub score: f64,
}

/// `vision_msgs/ObjectHypothesisWithPose`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ObjectHypothesisWithPose {
    pub hypothesis: ObjectHypothesis,
    pub pose: PoseWithCovariance,
}

/// `vision_msgs/Point2D`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Point2D {
    pub x: f64,
    pub y: f64,
}

/// `vision_msgs/Pose2D`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Pose2D {
    pub position: Point2D,
    pub theta: f64,
}

/// `vision_msgs/BoundingBox2D`: centre and size in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct BoundingBox2D {
    pub center: Pose2D,
    pub size_x: f64,
    pub size_y: f64,
}

/// `vision_msgs/Detection2D`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Detection2D {
    pub header: Header,
    pub results: Vec<ObjectHypothesisWithPose>,
    pub bbox: BoundingBox2D,
    pub id: String,
}

/// `vision_msgs/Detection2DArray`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Detection2DArray {
    pub header: Header,
    pub detections: Vec<Detection2D>,
}

/// One tracked body's messages.
#[derive(Clone, Debug, PartialEq)]
pub struct BodyMessages {
    /// The ROS4HRI body id (see [`body_id`]).
    pub id: String,
    pub skeleton: Skeleton2D,
    pub roi: NormalizedRegionOfInterest2D,
}

/// Everything one frame publishes.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameMessages {
    /// `/humans/bodies/tracked`: ids of the tracked bodies in this frame.
    pub tracked: IdsList,
    /// Per tracked body: `/humans/bodies/<id>/skeleton2d` and `.../roi`.
    pub bodies: Vec<BodyMessages>,
    /// `detections`: every person, tracked or not.
    pub detections: Detection2DArray,
}

/// The ROS4HRI id of a tracker id: `b<track_id>`, `None` for untracked persons (0).
///
/// The letter prefix is needed: an id is a topic-name token (`/humans/bodies/<id>/...`), and
/// ROS 2 rejects tokens that start with a digit.
pub fn body_id(track_id: u32) -> Option<String> {
    (track_id != 0).then(|| format!("b{track_id}"))
}

/// Builds the messages of one frame. Persons without a track id (tracker off) appear only in
/// the detections (with an empty `id`): ROS4HRI bodies need stable ids.
pub fn frame_messages(frame: &FramePoses, frame_id: &str) -> FrameMessages {
    let header = Header {
        stamp: Time::from_micros(frame.timestamp_us),
        frame_id: frame_id.to_owned(),
    };
    let size = (frame.width.max(1) as f32, frame.height.max(1) as f32);
    let mut bodies = Vec::with_capacity(frame.persons.len());
    let mut detections = Vec::with_capacity(frame.persons.len());
    for p in &frame.persons {
        let id = body_id(p.track_id);
        detections.push(detection(p, id.clone().unwrap_or_default(), &header));
        if let Some(id) = id {
            bodies.push(BodyMessages {
                id,
                skeleton: skeleton(p, size, &header),
                roi: roi(p, size, &header),
            });
        }
    }
    FrameMessages {
        tracked: IdsList {
            header: header.clone(),
            ids: bodies.iter().map(|b| b.id.clone()).collect(),
        },
        bodies,
        detections: Detection2DArray { header, detections },
    }
}

/// A keypoint in normalised coordinates, clamped into [0, 1] as the message requires.
/// A missing keypoint is all zeros: `c == 0` is the marker (x = y = 0 is a real position).
fn normalised(k: &Keypoint, (w, h): (f32, f32)) -> NormalizedPointOfInterest2D {
    if !k.present {
        return NormalizedPointOfInterest2D::default();
    }
    NormalizedPointOfInterest2D {
        x: unit(k.x / w),
        y: unit(k.y / h),
        c: unit(k.score),
    }
}

/// Clamps into [0, 1]; NaN becomes 0.
fn unit(v: f32) -> f32 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(0.0, 1.0)
    }
}

fn skeleton(p: &Person, size: (f32, f32), header: &Header) -> Skeleton2D {
    let mut skeleton = [NormalizedPointOfInterest2D::default(); SKELETON_POINTS];
    for (out, coco) in skeleton.iter_mut().zip(COCO17_FOR_HRI) {
        if let Some(i) = coco {
            *out = normalised(&p.keypoints[i], size);
        }
    }
    let (l, r) = (
        &p.keypoints[COCO_LEFT_SHOULDER],
        &p.keypoints[COCO_RIGHT_SHOULDER],
    );
    if l.present && r.present {
        let neck = Keypoint::new((l.x + r.x) / 2.0, (l.y + r.y) / 2.0, l.score.min(r.score));
        skeleton[NECK] = normalised(&neck, size);
    }
    Skeleton2D {
        header: header.clone(),
        skeleton,
    }
}

/// The box of the present keypoints, normalised; all zeros for a person without keypoints.
fn roi(p: &Person, (w, h): (f32, f32), header: &Header) -> NormalizedRegionOfInterest2D {
    let (xmin, ymin, xmax, ymax) = p
        .bbox()
        .map(|(x0, y0, x1, y1)| (unit(x0 / w), unit(y0 / h), unit(x1 / w), unit(y1 / h)))
        .unwrap_or_default();
    NormalizedRegionOfInterest2D {
        header: header.clone(),
        xmin,
        ymin,
        xmax,
        ymax,
        c: unit(p.score),
    }
}

/// A person box in pixels (vision_msgs convention), class [`PERSON_CLASS`].
fn detection(p: &Person, id: String, header: &Header) -> Detection2D {
    let (x0, y0, x1, y1) = p.bbox().unwrap_or_default();
    Detection2D {
        header: header.clone(),
        results: vec![ObjectHypothesisWithPose {
            hypothesis: ObjectHypothesis {
                class_id: PERSON_CLASS.to_owned(),
                score: f64::from(p.score),
            },
            pose: PoseWithCovariance::default(),
        }],
        bbox: BoundingBox2D {
            center: Pose2D {
                position: Point2D {
                    x: f64::from(x0 + x1) / 2.0,
                    y: f64::from(y0 + y1) / 2.0,
                },
                theta: 0.0,
            },
            size_x: f64::from(x1 - x0),
            size_y: f64::from(y1 - y0),
        },
        id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgepose_decoder::skeleton::COCO17_NAMES;

    /// hri_msgs/Skeleton2D constants, in index order (from the package's .msg).
    const HRI_NAMES: [&str; SKELETON_POINTS] = [
        "nose",
        "neck",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "right_hip",
        "right_knee",
        "right_ankle",
        "left_hip",
        "left_knee",
        "left_ankle",
        "left_eye",
        "right_eye",
        "left_ear",
        "right_ear",
    ];

    #[test]
    fn hri_order_maps_every_coco_keypoint_once_by_name() {
        let mut seen = [false; 17];
        for (i, coco) in COCO17_FOR_HRI.iter().enumerate() {
            match coco {
                Some(c) => {
                    assert_eq!(COCO17_NAMES[*c], HRI_NAMES[i], "index {i}");
                    assert!(!seen[*c]);
                    seen[*c] = true;
                }
                None => assert_eq!(i, NECK),
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    fn frame() -> FramePoses {
        let mut f = FramePoses {
            seq: 4,
            timestamp_us: 1_700_000_123_456_789,
            width: 200,
            height: 100,
            ..FramePoses::default()
        };
        let mut p = Person {
            score: 0.8,
            track_id: 7,
            ..Person::default()
        };
        p.keypoints[0] = Keypoint::new(100.0, 10.0, 0.9); // nose
        p.keypoints[5] = Keypoint::new(120.0, 30.0, 0.7); // left shoulder
        p.keypoints[6] = Keypoint::new(80.0, 40.0, 0.6); // right shoulder
        p.keypoints[1] = Keypoint::new(250.0, -5.0, 0.5); // left eye, outside the image
        f.persons.push(p).expect("room");
        let mut untracked = Person {
            score: 0.4,
            ..Person::default()
        };
        untracked.keypoints[0] = Keypoint::new(10.0, 20.0, 0.3);
        untracked.keypoints[15] = Keypoint::new(30.0, 60.0, 0.3);
        f.persons.push(untracked).expect("room");
        f
    }

    #[test]
    fn skeleton_is_normalised_with_neck_and_zeros_for_missing() {
        let m = frame_messages(&frame(), "cam");
        assert_eq!(m.tracked.ids, vec!["b7".to_string()]);
        assert_eq!(
            m.bodies.len(),
            1,
            "untracked persons are not ROS4HRI bodies"
        );
        let s = &m.bodies[0].skeleton.skeleton;
        let pt = |x, y, c| NormalizedPointOfInterest2D { x, y, c };
        assert_eq!(s[0], pt(0.5, 0.1, 0.9));
        assert_eq!(s[5], pt(0.6, 0.3, 0.7), "LEFT_SHOULDER");
        assert_eq!(s[2], pt(0.4, 0.4, 0.6), "RIGHT_SHOULDER");
        assert_eq!(s[NECK], pt(0.5, 0.35, 0.6), "neck = shoulders' midpoint");
        assert_eq!(s[14], pt(1.0, 0.0, 0.5), "LEFT_EYE clamped into the image");
        assert_eq!(
            s[15],
            NormalizedPointOfInterest2D::default(),
            "missing: zeros"
        );
        let h = &m.bodies[0].skeleton.header;
        assert_eq!((h.stamp.sec, h.stamp.nanosec), (1_700_000_123, 456_789_000));
        assert_eq!(h.frame_id, "cam");
        let roi = &m.bodies[0].roi;
        assert_eq!(
            (roi.xmin, roi.ymin, roi.xmax, roi.ymax),
            (0.4, 0.0, 1.0, 0.4)
        );
        assert_eq!(roi.c, 0.8);
    }

    #[test]
    fn neck_needs_both_shoulders() {
        let mut f = frame();
        f.persons[0].keypoints[6] = Keypoint::ABSENT;
        let m = frame_messages(&f, "cam");
        assert_eq!(m.bodies[0].skeleton.skeleton[NECK].c, 0.0);
    }

    #[test]
    fn detections_hold_every_person_in_pixels() {
        let m = frame_messages(&frame(), "cam");
        let d = &m.detections.detections;
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].id, "b7");
        assert_eq!(d[1].id, "", "untracked: empty id");
        assert_eq!(d[0].results[0].hypothesis.class_id, PERSON_CLASS);
        assert!((d[0].results[0].hypothesis.score - 0.8).abs() < 1e-6);
        assert_eq!(d[1].bbox.center.position, Point2D { x: 20.0, y: 40.0 });
        assert_eq!((d[1].bbox.size_x, d[1].bbox.size_y), (20.0, 40.0));
        assert_eq!(d[0].results[0].pose.pose.orientation.w, 1.0);
    }

    #[test]
    fn nan_and_empty_frames_stay_in_range() {
        let mut f = frame();
        f.persons[0].keypoints[0] = Keypoint::new(f32::NAN, 5.0, f32::NAN);
        f.width = 0; // a broken source size must not divide by zero
        let m = frame_messages(&f, "cam");
        for p in &m.bodies[0].skeleton.skeleton {
            assert!((0.0..=1.0).contains(&p.x) && (0.0..=1.0).contains(&p.y));
            assert!((0.0..=1.0).contains(&p.c));
        }
        let empty = frame_messages(&FramePoses::default(), "cam");
        assert!(empty.tracked.ids.is_empty() && empty.detections.detections.is_empty());
    }

    #[test]
    fn stamps_split_micros_and_saturate() {
        assert_eq!(
            Time::from_micros(1_500_001),
            Time {
                sec: 1,
                nanosec: 500_001_000
            }
        );
        assert_eq!(Time::from_micros(u64::MAX).sec, i32::MAX);
    }
}
