//! JPEG decoding of one 640x480 camera frame to RGB8, side by side: the `image` crate (what
//! `convert::decode_jpeg` uses; zune-jpeg inside), zune-jpeg called directly, and the
//! `jpeg-decoder` crate (image's decoder before 0.25). The frame is the synthetic scene
//! (people, gradients, texture) encoded at quality 85 and 4:2:0, like a webcam's MJPEG.
//!
//! `cargo bench --bench jpeg`

use criterion::{criterion_group, criterion_main, Criterion};
use edgepose::source::synthetic::{SyntheticConfig, SyntheticSource};
use edgepose::source::Source;
use std::hint::black_box;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const QUALITY: u8 = 85;

fn frame_jpeg() -> Vec<u8> {
    let mut src = SyntheticSource::open(&SyntheticConfig {
        people: 3,
        width: WIDTH,
        height: HEIGHT,
        ..SyntheticConfig::default()
    })
    .expect("synthetic source");
    let img = src.next_frame().expect("frame").expect("a frame").image;
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&img)
        .expect("encode");
    out.into_inner()
}

fn bench_jpeg(c: &mut Criterion) {
    let jpeg = frame_jpeg();
    eprintln!("640x480 frame: {} bytes of JPEG", jpeg.len());
    let mut group = c.benchmark_group("jpeg_640x480");
    group.bench_function("image (zune-jpeg inside; in use)", |b| {
        b.iter(|| edgepose::source::convert::decode_jpeg(black_box(&jpeg)).expect("decodes"))
    });
    group.bench_function("zune-jpeg direct", |b| {
        b.iter(|| {
            let options = zune_core::options::DecoderOptions::default()
                .jpeg_set_out_colorspace(zune_core::colorspace::ColorSpace::RGB);
            let mut d = zune_jpeg::JpegDecoder::new_with_options(
                zune_core::bytestream::ZCursor::new(black_box(&jpeg[..])),
                options,
            );
            d.decode().expect("decodes")
        })
    });
    group.bench_function("jpeg-decoder", |b| {
        b.iter(|| {
            let mut d = jpeg_decoder::Decoder::new(black_box(&jpeg[..]));
            d.decode().expect("decodes")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_jpeg);
criterion_main!(benches);
