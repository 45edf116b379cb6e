//! The scene generator: determinism, annotation validity, occlusion and truncation marks.

use edgepose::synth::figure::{kp, Appearance, Figure, Placement, Proportions, NUM_KEYPOINTS};
use edgepose::synth::pose_prior::{sample_activity, walking_pose, Activity};
use edgepose::synth::render::{background, Light, PostFx};
use edgepose::synth::scene::{
    render, MAX_HEIGHT_FRAC, MIN_HEIGHT_FRAC, V_OCCLUDED, V_UNLABELED, V_VISIBLE,
};
use edgepose::synth::{generate, image_rng, SceneConfig, SynthError};

fn cfg(w: u32, h: u32) -> SceneConfig {
    SceneConfig {
        width: w,
        height: h,
        min_people: 1,
        max_people: 6,
    }
}

#[test]
fn same_seed_same_scene_different_seed_different_scene() {
    let c = cfg(128, 96);
    let a = generate(&c, 7, 3).unwrap();
    let b = generate(&c, 7, 3).unwrap();
    assert_eq!(a.image.as_raw(), b.image.as_raw());
    assert_eq!(a.persons, b.persons);
    let other_seed = generate(&c, 8, 3).unwrap();
    assert_ne!(a.image.as_raw(), other_seed.image.as_raw());
    let other_index = generate(&c, 7, 4).unwrap();
    assert_ne!(a.image.as_raw(), other_index.image.as_raw());
}

#[test]
fn annotations_are_valid_over_many_scenes() {
    let mut people_seen = std::collections::BTreeSet::new();
    let mut hidden = 0usize;
    let mut truncated = 0usize;
    for (w, h) in [(256u32, 256u32), (160, 120), (96, 160)] {
        let c = cfg(w, h);
        for i in 0..30 {
            let r = generate(&c, 11, i).unwrap();
            assert_eq!(r.image.dimensions(), (w, h));
            let n = r.persons.len();
            assert!((1..=6).contains(&n), "{n} people");
            people_seen.insert(n);
            for p in &r.persons {
                let frac = p.height_px / h as f32;
                assert!(
                    (MIN_HEIGHT_FRAC..=MAX_HEIGHT_FRAC).contains(&frac),
                    "height fraction {frac}"
                );
                let [bx, by, bw, bh] = p.bbox;
                assert!(
                    bx >= 0.0 && by >= 0.0 && bw > 0.0 && bh > 0.0,
                    "{:?}",
                    p.bbox
                );
                assert!(bx + bw <= w as f32 + 1e-3 && by + bh <= h as f32 + 1e-3);
                let mut visible = 0;
                for k in &p.keypoints {
                    let v = k[2] as u8;
                    assert!(v <= V_VISIBLE);
                    if v == V_UNLABELED {
                        assert_eq!((k[0], k[1]), (0.0, 0.0));
                        truncated += 1;
                        continue;
                    }
                    hidden += usize::from(v == V_OCCLUDED);
                    visible += usize::from(v == V_VISIBLE);
                    assert!(k[0] >= 0.0 && k[0] < w as f32 && k[1] >= 0.0 && k[1] < h as f32);
                    assert!(k[0] >= bx && k[0] <= bx + bw && k[1] >= by && k[1] <= by + bh);
                }
                assert!(
                    visible >= 5,
                    "a kept person must be recognisable: {visible}"
                );
                // The RLE covers the image exactly and agrees with the area.
                let total: u64 = p.mask_rle.iter().map(|&c| u64::from(c)).sum();
                assert_eq!(total, u64::from(w) * u64::from(h));
                let ones: u32 = p.mask_rle.iter().skip(1).step_by(2).sum();
                assert_eq!(ones, p.area);
                assert!(p.area > 0 && p.area as f32 <= bw * bh);
            }
        }
    }
    assert!(
        people_seen.len() >= 4,
        "people counts barely vary: {people_seen:?}"
    );
    assert!(hidden > 0, "no occluded keypoint in 90 scenes");
    assert!(truncated > 0, "no truncated person in 90 scenes");
}

#[test]
fn people_range_is_respected() {
    let c = SceneConfig {
        width: 256,
        height: 256,
        min_people: 3,
        max_people: 4,
    };
    for i in 0..10 {
        let n = generate(&c, 5, i).unwrap().persons.len();
        assert!((3..=4).contains(&n), "{n}");
    }
}

#[test]
fn bad_configs_are_rejected_with_a_reason() {
    let e = generate(&cfg(4, 4), 1, 0).unwrap_err();
    assert!(
        matches!(e, SynthError::Config(_)) && e.to_string().contains("4x4"),
        "{e}"
    );
    let c = SceneConfig {
        min_people: 5,
        max_people: 2,
        ..cfg(64, 64)
    };
    let e = generate(&c, 1, 0).unwrap_err();
    assert!(e.to_string().contains("people"), "{e}");
}

fn standing_figure(cx: f32, ground_y: f32, height_px: f32, yaw: f32) -> Figure {
    let mut rng = image_rng(3, 0);
    Figure {
        pose: walking_pose(0.3, 0.5),
        props: Proportions::default(),
        look: Appearance::sample(&mut rng),
        place: Placement {
            cx,
            ground_y,
            height_px,
            yaw,
            cam_pitch: 0.0,
        },
        seat: false,
    }
}

fn render_figures(figs: &[Figure], w: u32, h: u32) -> edgepose::synth::Rendered {
    let mut rng = image_rng(9, 0);
    let light = Light::sample(&mut rng);
    let bg = background(&mut rng, w, h, &light);
    let post = PostFx::sample(&mut rng);
    render(figs, &bg, &light, &post, &mut rng)
}

#[test]
fn a_figure_fully_behind_another_is_marked_hidden() {
    let back = standing_figure(100.0, 180.0, 150.0, 0.0);
    let mut front = back;
    front.props.bulk = 1.3;
    let r = render_figures(&[back, front], 200, 200);
    let (b, f) = (&r.persons[0], &r.persons[1]);
    for k in 0..NUM_KEYPOINTS {
        assert_eq!(b.keypoints[k][2] as u8, V_OCCLUDED, "back keypoint {k}");
        // Same place, so the front person's keypoints are the same points, and visible.
        assert_eq!(f.keypoints[k][2] as u8, V_VISIBLE, "front keypoint {k}");
        assert!((b.keypoints[k][0] - f.keypoints[k][0]).abs() < 1e-3);
    }
    assert_eq!(b.area, 0, "nothing of the back figure may show");
    assert!(f.area > 1000);
    assert_eq!(
        b.num_keypoints(),
        NUM_KEYPOINTS,
        "hidden points stay labelled"
    );
}

#[test]
fn a_figure_beside_another_is_visible_and_the_overlap_is_partial() {
    // The front figure stands left of centre of the back one: only the back figure's right
    // side (image left) is covered.
    let back = standing_figure(100.0, 180.0, 150.0, 0.0);
    let front = standing_figure(75.0, 185.0, 150.0, 0.0);
    let r = render_figures(&[back, front], 200, 200);
    let b = &r.persons[0];
    // Facing the camera, the person's right side is on image left, under the front figure.
    assert_eq!(b.keypoints[kp::RIGHT_WRIST][2] as u8, V_OCCLUDED);
    assert_eq!(b.keypoints[kp::LEFT_WRIST][2] as u8, V_VISIBLE);
    assert_eq!(b.keypoints[kp::LEFT_SHOULDER][2] as u8, V_VISIBLE);
    assert!(b.area > 0);
}

#[test]
fn keypoints_outside_the_image_are_unlabelled() {
    // Half the person is left of the image.
    let f = standing_figure(0.0, 180.0, 150.0, 0.0);
    let r = render_figures(&[f], 200, 200);
    let p = &r.persons[0];
    let proj = f.project();
    for k in 0..NUM_KEYPOINTS {
        let x = proj.keypoints[k][0];
        if x < 0.0 {
            assert_eq!(p.keypoints[k], [0.0, 0.0, 0.0], "keypoint {k} at x {x}");
        } else if x > 0.5 {
            assert!(p.keypoints[k][2] > 0.0, "keypoint {k} at x {x}");
        }
    }
    assert!(
        p.bbox[0] == 0.0,
        "box clipped at the left edge: {:?}",
        p.bbox
    );
}

#[test]
fn profile_hides_the_far_eye_and_ear() {
    // Yaw +90°: facing image right, the person's left side is turned away.
    let mut f = standing_figure(100.0, 180.0, 150.0, std::f32::consts::FRAC_PI_2);
    f.pose.head_yaw = 0.0;
    let r = render_figures(&[f], 200, 200);
    let k = &r.persons[0].keypoints;
    assert_eq!(k[kp::LEFT_EYE][2] as u8, V_OCCLUDED);
    assert_eq!(k[kp::LEFT_EAR][2] as u8, V_OCCLUDED);
    assert_eq!(k[kp::RIGHT_EYE][2] as u8, V_VISIBLE);
    assert_eq!(k[kp::RIGHT_EAR][2] as u8, V_VISIBLE);
    assert_eq!(k[kp::NOSE][2] as u8, V_VISIBLE);
    // The nose points the way the person faces.
    assert!(k[kp::NOSE][0] > k[kp::RIGHT_EAR][0]);
    // Seen from behind, the face is hidden and both ears show.
    let mut back = f;
    back.place.yaw = std::f32::consts::PI;
    let r = render_figures(&[back], 200, 200);
    let k = &r.persons[0].keypoints;
    for i in [kp::NOSE, kp::LEFT_EYE, kp::RIGHT_EYE] {
        assert_eq!(k[i][2] as u8, V_OCCLUDED, "{i}");
    }
    assert_eq!(k[kp::LEFT_EAR][2] as u8, V_VISIBLE);
    // From behind, the person's left is on image left.
    assert!(k[kp::LEFT_SHOULDER][0] < k[kp::RIGHT_SHOULDER][0]);
}

#[test]
fn frontal_figure_has_anatomical_left_on_image_right() {
    let f = standing_figure(100.0, 190.0, 160.0, 0.0);
    let p = f.project();
    for (l, r) in [
        (kp::LEFT_SHOULDER, kp::RIGHT_SHOULDER),
        (kp::LEFT_HIP, kp::RIGHT_HIP),
        (kp::LEFT_EYE, kp::RIGHT_EYE),
        (kp::LEFT_EAR, kp::RIGHT_EAR),
    ] {
        assert!(p.keypoints[l][0] > p.keypoints[r][0], "{l} vs {r}");
    }
    // Head above shoulders above hips above knees above ankles; feet near the ground.
    let y = |k: usize| p.keypoints[k][1];
    assert!(y(kp::NOSE) < y(kp::LEFT_SHOULDER));
    assert!(y(kp::LEFT_SHOULDER) < y(kp::LEFT_HIP));
    assert!(y(kp::LEFT_HIP) < y(kp::LEFT_KNEE));
    assert!(y(kp::LEFT_KNEE) < y(kp::LEFT_ANKLE));
    let ankle = y(kp::LEFT_ANKLE).max(y(kp::RIGHT_ANKLE));
    assert!((190.0 - ankle) < 0.1 * 160.0 && ankle <= 190.0);
    let height = ankle - y(kp::NOSE);
    assert!(height > 0.75 * 160.0 && height < 160.0, "{height}");
}

#[test]
fn every_activity_produces_a_person_with_its_feet_on_the_ground() {
    let mut rng = image_rng(21, 0);
    for act in [
        Activity::Standing,
        Activity::Walking,
        Activity::ArmsRaised,
        Activity::Sitting,
        Activity::Crouching,
        Activity::Active,
    ] {
        for _ in 0..20 {
            let mut f = standing_figure(100.0, 190.0, 160.0, 0.0);
            f.pose = sample_activity(&mut rng, act);
            let p = f.project();
            let lowest = p.keypoints.iter().map(|k| k[1]).fold(f32::MIN, f32::max);
            let highest = p.keypoints.iter().map(|k| k[1]).fold(f32::MAX, f32::min);
            assert!(
                lowest <= 190.0 && lowest > 190.0 - 0.15 * 160.0,
                "{act:?}: {lowest}"
            );
            assert!(highest > 190.0 - 1.3 * 160.0, "{act:?}: {highest}");
            for k in p.keypoints {
                assert!(k[0].is_finite() && k[1].is_finite());
            }
        }
    }
}
