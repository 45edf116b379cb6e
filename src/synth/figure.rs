//! Articulated figures: body proportions and appearance, forward kinematics of a [`Pose`]
//! in 3-D, orthographic projection into the image, COCO-17 keypoints with the face
//! self-occlusion of head turns, and the list of shaded shapes that draw the person.

use super::pose_prior::{side_sign, Pose, LEFT, RIGHT};
use super::render::{Geom, Paint, Rgb, P2};
use rand::RngExt;

/// COCO-17 keypoint indices.
pub mod kp {
    pub const NOSE: usize = 0;
    pub const LEFT_EYE: usize = 1;
    pub const RIGHT_EYE: usize = 2;
    pub const LEFT_EAR: usize = 3;
    pub const RIGHT_EAR: usize = 4;
    pub const LEFT_SHOULDER: usize = 5;
    pub const RIGHT_SHOULDER: usize = 6;
    pub const LEFT_ELBOW: usize = 7;
    pub const RIGHT_ELBOW: usize = 8;
    pub const LEFT_WRIST: usize = 9;
    pub const RIGHT_WRIST: usize = 10;
    pub const LEFT_HIP: usize = 11;
    pub const RIGHT_HIP: usize = 12;
    pub const LEFT_KNEE: usize = 13;
    pub const RIGHT_KNEE: usize = 14;
    pub const LEFT_ANKLE: usize = 15;
    pub const RIGHT_ANKLE: usize = 16;
}

/// Number of COCO keypoints.
pub const NUM_KEYPOINTS: usize = 17;

/// A face point counts as hidden by the head itself when its outward normal points away
/// from the camera by more than this (z component of the unit normal; 0 = exactly sideways).
const NOSE_VISIBLE_NZ: f32 = -0.2;
const EYE_VISIBLE_NZ: f32 = 0.05;
const EAR_VISIBLE_NZ: f32 = -0.3;

type V3 = [f32; 3];

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn scale(a: V3, s: f32) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}
fn dot3(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: V3) -> V3 {
    let l = dot3(a, a).sqrt();
    if l < 1e-9 {
        [0.0, 1.0, 0.0]
    } else {
        scale(a, 1.0 / l)
    }
}
/// Vector expressed in the basis (x, y, z).
fn in_frame(frame: &[V3; 3], v: V3) -> V3 {
    add(
        add(scale(frame[0], v[0]), scale(frame[1], v[1])),
        scale(frame[2], v[2]),
    )
}

/// Body measurements in units of standing height.
#[derive(Clone, Copy, Debug)]
pub struct Proportions {
    pub hip_half: f32,
    pub shoulder_half: f32,
    pub spine: f32,
    pub neck: f32,
    pub head_r: f32,
    pub upper_arm: f32,
    pub forearm: f32,
    pub hand: f32,
    pub thigh: f32,
    pub shin: f32,
    pub ankle_h: f32,
    pub foot: f32,
    /// Girth multiplier for limbs and torso (slim < 1 < heavy).
    pub bulk: f32,
}

impl Default for Proportions {
    fn default() -> Self {
        Proportions {
            hip_half: 0.085,
            shoulder_half: 0.125,
            spine: 0.30,
            neck: 0.095,
            head_r: 0.062,
            upper_arm: 0.165,
            forearm: 0.145,
            hand: 0.055,
            thigh: 0.245,
            shin: 0.235,
            ankle_h: 0.04,
            foot: 0.12,
            bulk: 1.0,
        }
    }
}

impl Proportions {
    pub fn sample(rng: &mut impl RngExt) -> Self {
        let d = Proportions::default();
        let mut j = |v: f32, f: f32| v * rng.random_range(1.0 - f..1.0 + f);
        Proportions {
            hip_half: j(d.hip_half, 0.1),
            shoulder_half: j(d.shoulder_half, 0.08),
            spine: j(d.spine, 0.05),
            neck: j(d.neck, 0.1),
            head_r: j(d.head_r, 0.08),
            upper_arm: j(d.upper_arm, 0.05),
            forearm: j(d.forearm, 0.05),
            hand: j(d.hand, 0.1),
            thigh: j(d.thigh, 0.05),
            shin: j(d.shin, 0.05),
            ankle_h: d.ankle_h,
            foot: j(d.foot, 0.1),
            bulk: j(1.05, 0.22),
        }
    }
}

/// Colours and clothing of one person.
#[derive(Clone, Copy, Debug)]
pub struct Appearance {
    pub skin: Rgb,
    pub hair: Rgb,
    pub shirt: Rgb,
    pub pants: Rgb,
    pub shoes: Rgb,
    pub long_sleeves: bool,
    pub shorts: bool,
    /// Outline darkness on/off (some people are drawn without a rim).
    pub outline: bool,
}

impl Appearance {
    pub fn sample(rng: &mut impl RngExt) -> Self {
        // Skin tones from light to dark along a realistic brown axis.
        let t: f32 = rng.random_range(0.0..1.0);
        let light = [242.0, 205.0, 178.0];
        let dark = [82.0, 52.0, 36.0];
        let mut skin = [0.0; 3];
        for c in 0..3 {
            skin[c] = light[c] + (dark[c] - light[c]) * t + rng.random_range(-8.0..8.0);
        }
        let hair_palette: [Rgb; 6] = [
            [25.0, 20.0, 18.0],
            [60.0, 40.0, 25.0],
            [110.0, 75.0, 40.0],
            [200.0, 170.0, 110.0],
            [150.0, 150.0, 150.0],
            [140.0, 60.0, 30.0],
        ];
        let hair = hair_palette[rng.random_range(0..hair_palette.len())];
        let shoes = if rng.random_bool(0.7) {
            let g = rng.random_range(15.0..80.0);
            [g, g * 0.95, g * 0.9]
        } else {
            super::render::random_color(rng)
        };
        Appearance {
            skin,
            hair,
            shirt: super::render::random_color(rng),
            pants: super::render::random_color(rng),
            shoes,
            long_sleeves: rng.random_bool(0.55),
            shorts: rng.random_bool(0.2),
            outline: rng.random_bool(0.8),
        }
    }
}

/// Where and how a figure stands in the image.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// Image x of the point between the feet.
    pub cx: f32,
    /// Image y of the ground under the feet.
    pub ground_y: f32,
    /// Standing height in pixels (the projection scale).
    pub height_px: f32,
    /// Body yaw: 0 faces the camera, +π/2 faces image right, π shows the back.
    pub yaw: f32,
    /// Camera elevation: positive looks down on the person.
    pub cam_pitch: f32,
}

/// One person: who they are, how they stand, where they are.
#[derive(Clone, Copy, Debug)]
pub struct Figure {
    pub pose: Pose,
    pub props: Proportions,
    pub look: Appearance,
    pub place: Placement,
    /// Draw a stool under the hips (sitting poses).
    pub seat: bool,
}

/// The figure's joints in the image.
#[derive(Clone, Copy, Debug)]
pub struct Projected {
    /// COCO-17 keypoints in image pixels.
    pub keypoints: [P2; NUM_KEYPOINTS],
    /// Camera depth of each keypoint (larger = nearer), body units.
    pub depth: [f32; NUM_KEYPOINTS],
    /// Face points hidden by the head itself (profile and back views).
    pub self_hidden: [bool; NUM_KEYPOINTS],
}

/// A shape to draw, with what it belongs to.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub geom: Geom,
    pub paint: Paint,
    /// Painter's-order key within the figure (larger = nearer, drawn later).
    pub depth: f32,
    /// Bit k set when COCO keypoint k is part of this shape (the shape cannot hide it).
    pub owns: u32,
}

/// 3-D joints (body frame, feet on y = 0) plus the extra points drawing needs.
struct Joints3 {
    kp: [V3; NUM_KEYPOINTS],
    face_normal: [V3; 5],
    neck_base: V3,
    pelvis: V3,
    head: V3,
    head_frame: [V3; 3],
    torso_frame: [V3; 3],
    hand_tip: [V3; 2],
    toe: [V3; 2],
}

fn bit(k: usize) -> u32 {
    1 << k
}

impl Figure {
    fn joints3(&self) -> Joints3 {
        let p = &self.pose;
        let b = &self.props;
        // Spine frame: s up the spine, lat towards the person's left, f forward.
        let s = norm([
            p.torso_roll.sin() * p.torso_pitch.cos(),
            p.torso_roll.cos() * p.torso_pitch.cos(),
            p.torso_pitch.sin(),
        ]);
        let lat = norm(add([1.0, 0.0, 0.0], scale(s, -s[0])));
        let f = cross(lat, s);
        let pelvis = [0.0, 0.0, 0.0];
        let neck_base = add(pelvis, scale(s, b.spine));
        let mut kp = [[0.0f32; 3]; NUM_KEYPOINTS];
        let mut hand_tip = [[0.0f32; 3]; 2];
        let mut toe = [[0.0f32; 3]; 2];
        let torso_frame = [lat, s, f];
        for side in [LEFT, RIGHT] {
            let sg = side_sign(side);
            let (ks, ke, kw, kh, kk, ka) = if side == LEFT {
                (
                    kp::LEFT_SHOULDER,
                    kp::LEFT_ELBOW,
                    kp::LEFT_WRIST,
                    kp::LEFT_HIP,
                    kp::LEFT_KNEE,
                    kp::LEFT_ANKLE,
                )
            } else {
                (
                    kp::RIGHT_SHOULDER,
                    kp::RIGHT_ELBOW,
                    kp::RIGHT_WRIST,
                    kp::RIGHT_HIP,
                    kp::RIGHT_KNEE,
                    kp::RIGHT_ANKLE,
                )
            };
            // Arm, in the torso frame.
            let a = p.arms[side];
            let shoulder = add(
                add(neck_base, scale(lat, sg * b.shoulder_half)),
                scale(s, -0.012),
            );
            let u_local = [
                sg * a.abd.sin(),
                -a.abd.cos() * a.flex.cos(),
                a.abd.cos() * a.flex.sin(),
            ];
            let u = norm(in_frame(&torso_frame, u_local));
            let v = in_frame(&torso_frame, [0.0, a.twist.sin(), a.twist.cos()]);
            let mut bend = add(v, scale(u, -dot3(v, u)));
            if dot3(bend, bend) < 1e-4 {
                let v2 = in_frame(&torso_frame, [0.0, 1.0, 0.0]);
                bend = add(v2, scale(u, -dot3(v2, u)));
            }
            let bend = norm(bend);
            let fore = norm(add(scale(u, a.elbow.cos()), scale(bend, a.elbow.sin())));
            let elbow = add(shoulder, scale(u, b.upper_arm));
            let wrist = add(elbow, scale(fore, b.forearm));
            kp[ks] = shoulder;
            kp[ke] = elbow;
            kp[kw] = wrist;
            hand_tip[side] = add(wrist, scale(fore, b.hand));
            // Leg, in the body frame (hips do not follow the spine).
            let l = p.legs[side];
            let hip = [sg * b.hip_half, -0.01, 0.0];
            let thigh = norm([
                sg * l.abd.sin(),
                -l.abd.cos() * l.flex.cos(),
                l.abd.cos() * l.flex.sin(),
            ]);
            let shin_ang = l.flex - l.knee;
            let shin = norm([
                sg * l.abd.sin() * 0.6,
                -l.abd.cos() * shin_ang.cos(),
                l.abd.cos() * shin_ang.sin(),
            ]);
            let knee = add(hip, scale(thigh, b.thigh));
            let ankle = add(knee, scale(shin, b.shin));
            kp[kh] = hip;
            kp[kk] = knee;
            kp[ka] = ankle;
            toe[side] = add(ankle, scale(norm([sg * 0.15, -0.35, 1.0]), b.foot));
        }
        // Head: nod tilts the neck forward; turn rotates the face about the spine.
        let neck_dir = norm(add(s, scale(f, 0.12 + 0.35 * p.head_pitch)));
        let head = add(neck_base, scale(neck_dir, b.neck + b.head_r * 0.55));
        let (hy_s, hy_c) = p.head_yaw.sin_cos();
        let hf0 = add(scale(f, hy_c), scale(lat, hy_s));
        let hl = add(scale(lat, hy_c), scale(f, -hy_s));
        let (hp_s, hp_c) = p.head_pitch.sin_cos();
        let hf = norm(add(scale(hf0, hp_c), scale(s, -hp_s)));
        let hu = norm(add(scale(s, hp_c), scale(hf0, hp_s)));
        let head_frame = [hl, hu, hf];
        let r = b.head_r;
        let face_pts: [(usize, V3, V3); 5] = [
            (kp::NOSE, [0.0, -0.25, 1.08], [0.0, 0.0, 1.0]),
            (kp::LEFT_EYE, [0.36, 0.12, 0.88], [0.45, 0.0, 0.9]),
            (kp::RIGHT_EYE, [-0.36, 0.12, 0.88], [-0.45, 0.0, 0.9]),
            (kp::LEFT_EAR, [0.98, 0.0, -0.12], [1.0, 0.0, -0.1]),
            (kp::RIGHT_EAR, [-0.98, 0.0, -0.12], [-1.0, 0.0, -0.1]),
        ];
        let mut face_normal = [[0.0f32; 3]; 5];
        for (k, off, n) in face_pts {
            kp[k] = add(head, scale(in_frame(&head_frame, off), r));
            face_normal[k] = norm(in_frame(&head_frame, n));
        }
        // Stand on the ground: the lowest foot point touches y = 0.
        let mut lowest = f32::MAX;
        for side in [LEFT, RIGHT] {
            let ka = if side == LEFT {
                kp::LEFT_ANKLE
            } else {
                kp::RIGHT_ANKLE
            };
            lowest = lowest.min(kp[ka][1] - b.ankle_h).min(toe[side][1] - 0.02);
        }
        let lift = [0.0, -lowest, 0.0];
        for k in kp.iter_mut() {
            *k = add(*k, lift);
        }
        for t in hand_tip.iter_mut().chain(toe.iter_mut()) {
            *t = add(*t, lift);
        }
        Joints3 {
            kp,
            face_normal,
            neck_base: add(neck_base, lift),
            pelvis: add(pelvis, lift),
            head: add(head, lift),
            head_frame,
            torso_frame,
            hand_tip,
            toe,
        }
    }

    /// Rotate a body-frame direction into the camera frame (x right, y up, z towards camera).
    fn cam_dir(&self, v: V3) -> V3 {
        let (sy, cy) = self.place.yaw.sin_cos();
        let x = v[0] * cy + v[2] * sy;
        let z = -v[0] * sy + v[2] * cy;
        let (sp, cp) = self.place.cam_pitch.sin_cos();
        [x, v[1] * cp - z * sp, v[1] * sp + z * cp]
    }

    /// Image position and camera depth of a body-frame point.
    fn project_pt(&self, v: V3) -> (P2, f32) {
        let c = self.cam_dir(v);
        let s = self.place.height_px;
        (
            [self.place.cx + s * c[0], self.place.ground_y - s * c[1]],
            c[2],
        )
    }

    /// Keypoints in the image.
    pub fn project(&self) -> Projected {
        let j = self.joints3();
        let mut keypoints = [[0.0f32; 2]; NUM_KEYPOINTS];
        let mut depth = [0.0f32; NUM_KEYPOINTS];
        for k in 0..NUM_KEYPOINTS {
            let (p, d) = self.project_pt(j.kp[k]);
            keypoints[k] = p;
            depth[k] = d;
        }
        let mut self_hidden = [false; NUM_KEYPOINTS];
        for (k, n) in j.face_normal.iter().enumerate() {
            let nz = self.cam_dir(*n)[2];
            let limit = match k {
                kp::NOSE => NOSE_VISIBLE_NZ,
                kp::LEFT_EYE | kp::RIGHT_EYE => EYE_VISIBLE_NZ,
                _ => EAR_VISIBLE_NZ,
            };
            self_hidden[k] = nz <= limit;
        }
        Projected {
            keypoints,
            depth,
            self_hidden,
        }
    }

    /// Shapes drawing this figure, in painter's order (back to front).
    pub fn shapes(&self) -> Vec<Shape> {
        let j = self.joints3();
        let pr = self.project();
        let b = &self.props;
        let s = self.place.height_px;
        let look = &self.look;
        let outline = if look.outline {
            (0.011 * s).clamp(0.6, 2.5)
        } else {
            0.0
        };
        let paint = |color: Rgb| Paint {
            color,
            shaded: true,
            outline,
        };
        let bulk = b.bulk;
        let mut out: Vec<Shape> = Vec::with_capacity(32);
        let kpx = |k: usize| pr.keypoints[k];
        let kz = |k: usize| pr.depth[k];
        // Limbs are a touch in front of the torso at equal depth (arms hang beside it).
        const LIMB_BIAS: f32 = 0.02;

        // Torso: an inflated quad from the neck base to the pelvis; its on-screen width is the
        // elliptic cross-section seen from the camera's side.
        let (nb, nb_z) = self.project_pt(add(j.neck_base, scale(j.torso_frame[1], 0.015)));
        let (pv, pv_z) = self.project_pt(add(j.pelvis, scale(j.torso_frame[1], -0.03)));
        let lat_c = self.cam_dir(j.torso_frame[0]);
        let fwd_c = self.cam_dir(j.torso_frame[2]);
        let depth_half = 0.085 * bulk;
        let half = |w: f32| ((w * lat_c[0]).powi(2) + (depth_half * fwd_c[0]).powi(2)).sqrt() * s;
        let wt = half((b.shoulder_half + 0.03) * bulk.sqrt());
        let wb = half((b.hip_half + 0.035) * bulk);
        let torso_depth = (nb_z + pv_z) / 2.0;
        {
            let ax = [pv[0] - nb[0], pv[1] - nb[1]];
            let len = (ax[0] * ax[0] + ax[1] * ax[1]).sqrt().max(1e-3);
            let (ux, uy) = (ax[0] / len, ax[1] / len);
            let (px, py) = (-uy, ux);
            let round = wt.min(wb) * 0.45;
            let inset = round.min(len * 0.45);
            let top = [nb[0] + ux * inset, nb[1] + uy * inset];
            let bot = [pv[0] - ux * inset, pv[1] - uy * inset];
            let (it, ib) = ((wt - round).max(0.0), (wb - round).max(0.0));
            out.push(Shape {
                geom: Geom::Quad {
                    p: [
                        [top[0] + px * it, top[1] + py * it],
                        [bot[0] + px * ib, bot[1] + py * ib],
                        [bot[0] - px * ib, bot[1] - py * ib],
                        [top[0] - px * it, top[1] - py * it],
                    ],
                    round,
                    a: nb,
                    b: pv,
                    wa: wt,
                    wb,
                },
                paint: paint(look.shirt),
                depth: torso_depth,
                owns: bit(kp::LEFT_SHOULDER)
                    | bit(kp::RIGHT_SHOULDER)
                    | bit(kp::LEFT_HIP)
                    | bit(kp::RIGHT_HIP),
            });
        }
        // Pelvis / waistband.
        out.push(Shape {
            geom: Geom::Capsule {
                a: kpx(kp::LEFT_HIP),
                b: kpx(kp::RIGHT_HIP),
                ra: 0.068 * bulk * s,
                rb: 0.068 * bulk * s,
            },
            paint: paint(look.pants),
            depth: torso_depth - 0.001,
            owns: bit(kp::LEFT_HIP) | bit(kp::RIGHT_HIP),
        });
        // Neck.
        let (hc, hz) = self.project_pt(j.head);
        out.push(Shape {
            geom: Geom::Capsule {
                a: nb,
                b: hc,
                ra: 0.03 * bulk.sqrt() * s,
                rb: 0.027 * bulk.sqrt() * s,
            },
            paint: paint(look.skin),
            depth: torso_depth - 0.002,
            owns: bit(kp::LEFT_SHOULDER) | bit(kp::RIGHT_SHOULDER),
        });
        // Arms and legs.
        for side in [LEFT, RIGHT] {
            let (ks, ke, kw, kh, kk, ka) = if side == LEFT {
                (
                    kp::LEFT_SHOULDER,
                    kp::LEFT_ELBOW,
                    kp::LEFT_WRIST,
                    kp::LEFT_HIP,
                    kp::LEFT_KNEE,
                    kp::LEFT_ANKLE,
                )
            } else {
                (
                    kp::RIGHT_SHOULDER,
                    kp::RIGHT_ELBOW,
                    kp::RIGHT_WRIST,
                    kp::RIGHT_HIP,
                    kp::RIGHT_KNEE,
                    kp::RIGHT_ANKLE,
                )
            };
            let sleeve = look.shirt;
            let fore_col = if look.long_sleeves {
                look.shirt
            } else {
                look.skin
            };
            let upper_z = (kz(ks) + kz(ke)) / 2.0 + LIMB_BIAS;
            out.push(Shape {
                geom: Geom::Capsule {
                    a: kpx(ks),
                    b: kpx(ke),
                    ra: 0.038 * bulk * s,
                    rb: 0.029 * bulk * s,
                },
                paint: paint(sleeve),
                depth: upper_z,
                owns: bit(ks) | bit(ke),
            });
            let fore_z = (kz(ke) + kz(kw)) / 2.0 + LIMB_BIAS;
            out.push(Shape {
                geom: Geom::Capsule {
                    a: kpx(ke),
                    b: kpx(kw),
                    ra: 0.029 * bulk * s,
                    rb: 0.021 * bulk * s,
                },
                paint: paint(fore_col),
                depth: fore_z,
                owns: bit(ke) | bit(kw),
            });
            let (tip, _) = self.project_pt(j.hand_tip[side]);
            out.push(Shape {
                geom: Geom::Capsule {
                    a: kpx(kw),
                    b: tip,
                    ra: 0.022 * bulk.sqrt() * s,
                    rb: 0.018 * bulk.sqrt() * s,
                },
                paint: paint(look.skin),
                depth: fore_z + 0.001,
                owns: bit(kw),
            });
            let thigh_z = (kz(kh) + kz(kk)) / 2.0 + LIMB_BIAS * 0.5;
            out.push(Shape {
                geom: Geom::Capsule {
                    a: kpx(kh),
                    b: kpx(kk),
                    ra: 0.063 * bulk * s,
                    rb: 0.045 * bulk * s,
                },
                paint: paint(look.pants),
                depth: thigh_z,
                owns: bit(kh) | bit(kk),
            });
            let shin_z = (kz(kk) + kz(ka)) / 2.0 + LIMB_BIAS * 0.5;
            let shin_col = if look.shorts { look.skin } else { look.pants };
            out.push(Shape {
                geom: Geom::Capsule {
                    a: kpx(kk),
                    b: kpx(ka),
                    ra: 0.045 * bulk * s,
                    rb: 0.032 * bulk * s,
                },
                paint: paint(shin_col),
                depth: shin_z,
                owns: bit(kk) | bit(ka),
            });
            let (toe, toe_z) = self.project_pt(j.toe[side]);
            out.push(Shape {
                geom: Geom::Capsule {
                    a: kpx(ka),
                    b: toe,
                    ra: 0.03 * s,
                    rb: 0.024 * s,
                },
                paint: paint(look.shoes),
                depth: (shin_z + toe_z) / 2.0 - 0.001,
                owns: bit(ka),
            });
        }
        // Head: a hair-coloured ball with the face disc shifted towards where the face
        // points, so profiles show hair at the back and backs show only hair.
        let face_owns = (1 << 5) - 1;
        let head_z = hz + 0.03;
        let r = b.head_r * s;
        let hf_c = self.cam_dir(j.head_frame[2]);
        out.push(Shape {
            geom: Geom::Disc { c: hc, r },
            paint: paint(look.hair),
            depth: head_z,
            owns: face_owns,
        });
        if hf_c[2] > -0.45 {
            let off = in_frame(&j.head_frame, [0.0, -0.16, 0.32]);
            let (fc, _) = self.project_pt(add(j.head, scale(off, b.head_r)));
            out.push(Shape {
                geom: Geom::Disc { c: fc, r: r * 0.86 },
                paint: Paint {
                    color: look.skin,
                    shaded: true,
                    outline: 0.0,
                },
                depth: head_z + 0.0001,
                owns: face_owns,
            });
        }
        let detail = |color: Rgb| Paint {
            color,
            shaded: false,
            outline: 0.0,
        };
        let darker = |c: Rgb, f: f32| [c[0] * f, c[1] * f, c[2] * f];
        for k in [kp::LEFT_EAR, kp::RIGHT_EAR] {
            if !pr.self_hidden[k] {
                out.push(Shape {
                    geom: Geom::Ellipse {
                        c: kpx(k),
                        rx: r * 0.2,
                        ry: r * 0.3,
                        angle: 0.0,
                    },
                    paint: Paint {
                        color: darker(look.skin, 0.92),
                        shaded: true,
                        outline: 0.0,
                    },
                    depth: head_z + 0.0002,
                    owns: face_owns,
                });
            }
        }
        for k in [kp::LEFT_EYE, kp::RIGHT_EYE] {
            if !pr.self_hidden[k] {
                out.push(Shape {
                    geom: Geom::Disc {
                        c: kpx(k),
                        r: (r * 0.14).max(0.55),
                    },
                    paint: detail([35.0, 28.0, 26.0]),
                    depth: head_z + 0.0003,
                    owns: face_owns,
                });
            }
        }
        if !pr.self_hidden[kp::NOSE] {
            out.push(Shape {
                geom: Geom::Disc {
                    c: kpx(kp::NOSE),
                    r: (r * 0.13).max(0.5),
                },
                paint: detail(darker(look.skin, 0.78)),
                depth: head_z + 0.0003,
                owns: face_owns,
            });
            let mouth = add(
                j.head,
                scale(in_frame(&j.head_frame, [0.0, -0.55, 0.84]), b.head_r),
            );
            if self.cam_dir(j.face_normal[kp::NOSE])[2] > 0.3 {
                let (m, _) = self.project_pt(mouth);
                let ml = self.cam_dir(j.head_frame[0]);
                let hw = r * 0.22 * ml[0].abs().max(0.3);
                out.push(Shape {
                    geom: Geom::Capsule {
                        a: [m[0] - hw, m[1]],
                        b: [m[0] + hw, m[1]],
                        ra: (r * 0.05).max(0.4),
                        rb: (r * 0.05).max(0.4),
                    },
                    paint: detail([120.0, 45.0, 45.0]),
                    depth: head_z + 0.0003,
                    owns: face_owns,
                });
            }
        }
        if self.seat {
            let hip_y = (kpx(kp::LEFT_HIP)[1] + kpx(kp::RIGHT_HIP)[1]) / 2.0;
            let hip_x = (kpx(kp::LEFT_HIP)[0] + kpx(kp::RIGHT_HIP)[0]) / 2.0;
            let top = hip_y + 0.05 * s;
            let hw = 0.14 * s;
            let ground = self.place.ground_y;
            if ground > top {
                out.push(Shape {
                    geom: Geom::Quad {
                        p: [
                            [hip_x - hw, top],
                            [hip_x + hw, top],
                            [hip_x + hw, ground],
                            [hip_x - hw, ground],
                        ],
                        round: 1.0,
                        a: [hip_x, top],
                        b: [hip_x, ground],
                        wa: hw,
                        wb: hw,
                    },
                    paint: Paint {
                        color: darker(look.shoes, 1.6),
                        shaded: true,
                        outline: 1.0,
                    },
                    depth: f32::MIN,
                    owns: 0,
                });
            }
        }
        // Stable sort keeps the insertion order of equal depths (face details after the head).
        out.sort_by(|a, b| a.depth.total_cmp(&b.depth));
        out
    }
}
