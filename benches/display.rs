//! One display frame on the 240x240 ST7789 target: render the skeletons into the RGB565
//! framebuffer and encode it to the big-endian byte stream the driver sends (goal ≤ 2 ms).
//!
//!     cargo bench --bench display
//!
//! Measured 2026-11-21 on the 2-core dev machine under heavy parallel load: 60 µs per frame
//! (265 µs with a 640x480 camera preview behind the skeletons; 27 µs for 128x64 mono).

use criterion::{criterion_group, criterion_main, Criterion};
use edgepose::display::demo::{demo_frame, demo_preview};
use edgepose::display::{Framebuffer, RenderOptions, Renderer, Status};
use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, RgbColor};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let frame = demo_frame(7);
    let status = Status {
        fps: 14.6,
        model: "movenet-multipose".into(),
    };
    let preview = demo_preview();
    let mut renderer = Renderer::new(RenderOptions::default());
    let mut fb = Framebuffer::new(240, 240, Rgb565::BLACK);
    let mut bytes = Vec::with_capacity(240 * 240 * 2);

    c.bench_function("display_240x240_render_encode", |b| {
        b.iter(|| {
            let Ok(()) = renderer.render(&mut fb, black_box(&frame), None, &status);
            fb.encode_rgb565_be(&mut bytes);
            black_box(bytes.len())
        })
    });
    c.bench_function("display_240x240_preview_render_encode", |b| {
        b.iter(|| {
            let Ok(()) = renderer.render(&mut fb, black_box(&frame), Some(&preview), &status);
            fb.encode_rgb565_be(&mut bytes);
            black_box(bytes.len())
        })
    });
    let mut mono = Framebuffer::new(128, 64, BinaryColor::Off);
    c.bench_function("display_128x64_mono_render", |b| {
        b.iter(|| {
            let Ok(()) = renderer.render(&mut mono, black_box(&frame), None, &status);
            black_box(mono.count_on())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
