//! Pose prior: joint angles of plausible human poses (standing, walking, arms raised,
//! sitting, crouching, free "active" poses) with left/right asymmetry, and the walking gait
//! used by the simulation camera.
//!
//! Angles are in radians in the body frame (x = the person's left, y = up, z = forward).

use rand::RngExt;
use std::f32::consts::{FRAC_PI_2, PI};

/// Index of the left side in the per-side arrays.
pub const LEFT: usize = 0;
/// Index of the right side in the per-side arrays.
pub const RIGHT: usize = 1;

/// Lateral sign of a side in the body frame (+x is the person's left).
pub fn side_sign(side: usize) -> f32 {
    if side == LEFT {
        1.0
    } else {
        -1.0
    }
}

/// One arm: shoulder flexion (forward raise; 0 = hanging), abduction (sideways raise;
/// π/2 = horizontal), elbow flexion (0 = straight) and the direction the forearm bends to
/// (0 = forward, π/2 = upward).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ArmPose {
    pub flex: f32,
    pub abd: f32,
    pub elbow: f32,
    pub twist: f32,
}

/// One leg: hip flexion (thigh forward; 0 = straight down), abduction (outward) and knee
/// flexion (shin backward; 0 = straight).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegPose {
    pub flex: f32,
    pub abd: f32,
    pub knee: f32,
}

/// A full-body pose.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pose {
    /// Forward bend of the spine.
    pub torso_pitch: f32,
    /// Sideways bend of the spine (towards the person's left when positive).
    pub torso_roll: f32,
    /// Head turn relative to the torso (towards the person's left when positive).
    pub head_yaw: f32,
    /// Head nod (down when positive).
    pub head_pitch: f32,
    /// Indexed by [`LEFT`] / [`RIGHT`].
    pub arms: [ArmPose; 2],
    pub legs: [LegPose; 2],
}

/// Which family a sampled pose comes from (kept for statistics and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Standing,
    Walking,
    ArmsRaised,
    Sitting,
    Crouching,
    Active,
}

/// Relative frequency of each activity in the training prior.
const ACTIVITY_WEIGHTS: [(Activity, f32); 6] = [
    (Activity::Standing, 0.24),
    (Activity::Walking, 0.26),
    (Activity::ArmsRaised, 0.15),
    (Activity::Sitting, 0.09),
    (Activity::Crouching, 0.09),
    (Activity::Active, 0.17),
];

/// Walking stride: peak hip flexion (rad) at a normal pace.
pub const GAIT_HIP_AMPLITUDE: f32 = 0.42;

fn sym(rng: &mut impl RngExt, a: f32) -> f32 {
    rng.random_range(-a..=a)
}

/// Sample an activity and a pose of that activity.
pub fn sample_pose(rng: &mut impl RngExt) -> (Pose, Activity) {
    let total: f32 = ACTIVITY_WEIGHTS.iter().map(|w| w.1).sum();
    let mut u = rng.random_range(0.0..total);
    let mut activity = Activity::Standing;
    for (a, w) in ACTIVITY_WEIGHTS {
        if u < w {
            activity = a;
            break;
        }
        u -= w;
    }
    (sample_activity(rng, activity), activity)
}

/// Sample a pose of a given activity.
pub fn sample_activity(rng: &mut impl RngExt, activity: Activity) -> Pose {
    let mut p = match activity {
        Activity::Standing => standing(rng),
        Activity::Walking => {
            let phase = rng.random_range(0.0..2.0 * PI);
            let stride = rng.random_range(0.6..1.3);
            walking_pose(phase, stride)
        }
        Activity::ArmsRaised => arms_raised(rng),
        Activity::Sitting => sitting(rng),
        Activity::Crouching => crouching(rng),
        Activity::Active => active(rng),
    };
    // Everyone gets some asymmetric jitter so no two poses are mirror-perfect.
    for arm in &mut p.arms {
        arm.flex += sym(rng, 0.12);
        arm.abd = (arm.abd + sym(rng, 0.08)).max(0.02);
        arm.elbow = (arm.elbow + sym(rng, 0.12)).clamp(0.0, 2.5);
    }
    for leg in &mut p.legs {
        leg.flex += sym(rng, 0.06);
        leg.abd = (leg.abd + sym(rng, 0.03)).clamp(-0.1, 0.9);
        leg.knee = (leg.knee + sym(rng, 0.06)).clamp(0.0, 2.6);
    }
    p.head_yaw = (p.head_yaw + sym(rng, 0.35)).clamp(-1.3, 1.3);
    p.head_pitch += sym(rng, 0.2);
    p
}

fn standing(rng: &mut impl RngExt) -> Pose {
    let mut p = Pose {
        torso_pitch: sym(rng, 0.08),
        torso_roll: sym(rng, 0.06),
        ..Pose::default()
    };
    for side in [LEFT, RIGHT] {
        let hands_on_hips = rng.random_bool(0.2);
        p.arms[side] = if hands_on_hips {
            ArmPose {
                flex: -0.2,
                abd: rng.random_range(0.5..0.8),
                elbow: rng.random_range(1.6..2.1),
                twist: -0.3,
            }
        } else {
            ArmPose {
                flex: rng.random_range(-0.15..0.4),
                abd: rng.random_range(0.05..0.3),
                elbow: rng.random_range(0.0..1.2),
                twist: rng.random_range(-0.2..0.4),
            }
        };
        p.legs[side] = LegPose {
            flex: sym(rng, 0.12),
            abd: rng.random_range(0.0..0.15),
            knee: rng.random_range(0.0..0.2),
        };
    }
    p
}

/// Walking pose at gait `phase` (radians, one stride per 2π) with a stride scale
/// (1 = normal pace). Continuous in `phase`, so an animated walker moves smoothly.
pub fn walking_pose(phase: f32, stride: f32) -> Pose {
    let mut p = Pose {
        torso_pitch: 0.06 * stride,
        ..Pose::default()
    };
    for side in [LEFT, RIGHT] {
        // The right leg runs half a stride behind the left.
        let ph = if side == LEFT { phase } else { phase + PI };
        let hip = GAIT_HIP_AMPLITUDE * stride * ph.sin();
        // The knee flexes most in mid-swing, while the thigh moves forward (cos > 0).
        let swing = ph.cos().max(0.0);
        let knee = 0.08 + 0.9 * stride * swing * swing.sqrt();
        p.legs[side] = LegPose {
            flex: hip,
            abd: 0.03,
            knee,
        };
        // Arms swing against the same-side leg.
        let arm = -0.55 * stride * ph.sin();
        p.arms[side] = ArmPose {
            flex: arm,
            abd: 0.1,
            elbow: 0.25 + 0.35 * (-ph.sin()).max(0.0) * stride,
            twist: 0.0,
        };
    }
    p
}

fn arms_raised(rng: &mut impl RngExt) -> Pose {
    let mut p = standing(rng);
    let which = rng.random_range(0..3); // 0: left only, 1: right only, 2: both
    for side in [LEFT, RIGHT] {
        let raise = match which {
            0 => side == LEFT,
            1 => side == RIGHT,
            _ => true,
        };
        if !raise {
            continue;
        }
        p.arms[side] = match rng.random_range(0..3) {
            // Overhead (cheering, reaching up).
            0 => ArmPose {
                flex: rng.random_range(-0.2..0.4),
                abd: rng.random_range(2.3..3.0),
                elbow: rng.random_range(0.0..0.6),
                twist: 0.0,
            },
            // Waving: upper arm sideways, forearm up.
            1 => ArmPose {
                flex: rng.random_range(-0.1..0.3),
                abd: rng.random_range(1.2..1.8),
                elbow: rng.random_range(1.0..1.8),
                twist: FRAC_PI_2,
            },
            // Pointing / reaching forward.
            _ => ArmPose {
                flex: rng.random_range(1.1..1.9),
                abd: rng.random_range(0.0..0.5),
                elbow: rng.random_range(0.0..0.5),
                twist: 0.5,
            },
        };
    }
    p
}

fn sitting(rng: &mut impl RngExt) -> Pose {
    let mut p = Pose {
        torso_pitch: rng.random_range(-0.15..0.3),
        torso_roll: sym(rng, 0.05),
        ..Pose::default()
    };
    for side in [LEFT, RIGHT] {
        p.legs[side] = LegPose {
            flex: rng.random_range(1.3..1.7),
            abd: rng.random_range(0.05..0.3),
            knee: rng.random_range(1.2..1.8),
        };
        p.arms[side] = ArmPose {
            flex: rng.random_range(0.2..0.9),
            abd: rng.random_range(0.05..0.3),
            elbow: rng.random_range(0.6..1.6),
            twist: sym(rng, 0.3),
        };
    }
    p
}

fn crouching(rng: &mut impl RngExt) -> Pose {
    let mut p = Pose {
        torso_pitch: rng.random_range(0.3..0.8),
        torso_roll: sym(rng, 0.05),
        head_pitch: -0.3,
        ..Pose::default()
    };
    for side in [LEFT, RIGHT] {
        let flex = rng.random_range(1.6..2.2);
        p.legs[side] = LegPose {
            flex,
            abd: rng.random_range(0.1..0.4),
            knee: (flex + rng.random_range(0.3..0.6)).min(2.6),
        };
        p.arms[side] = ArmPose {
            flex: rng.random_range(0.5..1.3),
            abd: rng.random_range(0.1..0.4),
            elbow: rng.random_range(0.3..1.5),
            twist: 0.0,
        };
    }
    p
}

/// Free poses inside joint limits: jumping, kicking, reaching, bending over.
fn active(rng: &mut impl RngExt) -> Pose {
    let mut p = Pose {
        torso_pitch: rng.random_range(-0.2..0.9),
        torso_roll: sym(rng, 0.25),
        ..Pose::default()
    };
    for side in [LEFT, RIGHT] {
        p.arms[side] = ArmPose {
            flex: rng.random_range(-0.6..2.6),
            abd: rng.random_range(0.0..2.8),
            elbow: rng.random_range(0.0..2.3),
            twist: rng.random_range(-0.5..1.8),
        };
    }
    // One supporting leg, one free leg.
    let free = rng.random_range(0..2);
    for side in [LEFT, RIGHT] {
        p.legs[side] = if side == free {
            LegPose {
                flex: rng.random_range(-0.5..1.6),
                abd: rng.random_range(0.0..0.7),
                knee: rng.random_range(0.0..2.0),
            }
        } else {
            LegPose {
                flex: rng.random_range(-0.2..0.5),
                abd: rng.random_range(0.0..0.25),
                knee: rng.random_range(0.0..0.6),
            }
        };
    }
    p
}

/// Sample the body's yaw (0 = facing the camera, ±π/2 = profile facing image right/left,
/// π = seen from behind). Mostly frontal, with three-quarter, profile and back views.
pub fn sample_yaw(rng: &mut impl RngExt) -> f32 {
    let u: f32 = rng.random_range(0.0..1.0);
    let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    let mag = if u < 0.42 {
        rng.random_range(0.0..0.35)
    } else if u < 0.68 {
        rng.random_range(0.35..1.1)
    } else if u < 0.9 {
        rng.random_range(1.1..1.9)
    } else {
        rng.random_range(1.9..PI)
    };
    sign * mag
}
