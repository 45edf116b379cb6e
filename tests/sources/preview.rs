//! Visual check (not run by default): `SYNTH_PREVIEW=/tmp/p.png cargo test --test sources
//! preview -- --ignored` writes a montage of generated scenes, with and without the ground-truth
//! skeleton (green = visible, yellow = hidden), for a person to look at.

use edgepose::synth::coco::SKELETON;
use edgepose::synth::render::{fill, Canvas, Geom, Light, Paint};
use edgepose::synth::{generate, SceneConfig};
use image::{GenericImage, RgbImage};

#[test]
#[ignore = "writes a preview image for manual inspection"]
fn preview_montage() {
    let Ok(path) = std::env::var("SYNTH_PREVIEW") else {
        eprintln!("skipped: set SYNTH_PREVIEW=/path/out.png");
        return;
    };
    let seed: u64 = std::env::var("SYNTH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let size: u32 = std::env::var("SYNTH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    let cfg = SceneConfig {
        width: size,
        height: size,
        ..SceneConfig::default()
    };
    let (cols, rows) = (4u32, 2u32);
    let mut out = RgbImage::new(cols * size, rows * 2 * size);
    for i in 0..(cols * rows) {
        let r = generate(&cfg, seed, u64::from(i)).expect("scene");
        let (cx, cy) = ((i % cols) * size, (i / cols) * 2 * size);
        out.copy_from(&r.image, cx, cy).expect("copy");
        let mut cv = Canvas::new(size, size, [0.0; 3]);
        for (p, px) in cv.px.iter_mut().zip(r.image.pixels()) {
            *p = [f32::from(px[0]), f32::from(px[1]), f32::from(px[2])];
        }
        let light = Light {
            dir: [0.0, 0.0, 1.0],
            ambient: 1.0,
        };
        for person in &r.persons {
            let k = &person.keypoints;
            for [a, b] in SKELETON {
                let (a, b) = (&k[a as usize - 1], &k[b as usize - 1]);
                if a[2] > 0.0 && b[2] > 0.0 {
                    let g = Geom::Capsule {
                        a: [a[0], a[1]],
                        b: [b[0], b[1]],
                        ra: 0.8,
                        rb: 0.8,
                    };
                    let paint = Paint {
                        color: [255.0, 0.0, 255.0],
                        shaded: false,
                        outline: 0.0,
                    };
                    fill(&mut cv, &g, &paint, &light, None, &mut None);
                }
            }
            for p in k.iter().filter(|p| p[2] > 0.0) {
                let color = if p[2] == 2.0 {
                    [0.0, 255.0, 0.0]
                } else {
                    [255.0, 255.0, 0.0]
                };
                let g = Geom::Disc {
                    c: [p[0], p[1]],
                    r: 1.6,
                };
                fill(
                    &mut cv,
                    &g,
                    &Paint {
                        color,
                        shaded: false,
                        outline: 0.0,
                    },
                    &light,
                    None,
                    &mut None,
                );
            }
            let [x, y, w, h] = person.bbox;
            let g = Geom::Quad {
                p: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]],
                round: 0.0,
                a: [x, y],
                b: [x, y + h],
                wa: w / 2.0,
                wb: w / 2.0,
            };
            let _ = g; // box outline omitted: a filled quad would hide the figure
        }
        out.copy_from(&cv.to_image(), cx, cy + size).expect("copy");
    }
    out.save(&path).expect("save preview");
    eprintln!("wrote {path}");
}
