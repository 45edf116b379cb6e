//! Foxglove message schemas (JSON encoding) and the messages the recorder writes. One place
//! for both directions: the `mcap` source reads images back with [`decode_compressed_image`].

use base64::Engine as _;
use embedded_graphics::pixelcolor::{Rgb565, Rgb888, RgbColor};
use serde_json::{json, Value};

use super::ImageFormat;
use crate::decoder::skeleton::COCO17_SKELETON;
use crate::display::{keypoint_side, limb_side, Side, SkeletonColor};
use crate::pipeline::Stats;
use crate::pose::FramePoses;

/// `foxglove.CompressedImage`, JSON encoding (the image bytes in base64).
pub const COMPRESSED_IMAGE_SCHEMA: &str = schemas::COMPRESSED_IMAGE;
/// `foxglove.ImageAnnotations`, JSON encoding.
pub const IMAGE_ANNOTATIONS_SCHEMA: &str = schemas::IMAGE_ANNOTATIONS;
/// One pose frame: the JSON-lines sink's object.
pub const POSE_FRAME_SCHEMA: &str = r#"{"title":"edgepose.PoseFrame","description":"One frame of the edgepose JSON-lines schema","type":"object","properties":{"version":{"type":"integer"},"device_id":{"type":"integer"},"seq":{"type":"integer"},"timestamp_us":{"type":"integer"},"width":{"type":"integer"},"height":{"type":"integer"},"model_id":{"type":"integer"},"persons":{"type":"array","items":{"type":"object","properties":{"track_id":{"type":"integer"},"score":{"type":"number"},"keypoints":{"type":"array","minItems":17,"maxItems":17,"items":{"anyOf":[{"type":"null"},{"type":"array","items":{"type":"number"},"minItems":3,"maxItems":3}]}}}}}}}"#;
/// The pipeline's counters, once a second.
pub const STATS_SCHEMA: &str = r#"{"title":"edgepose.Stats","type":"object","properties":{"model":{"type":"string"},"fps":{"type":"number"},"counters":{"type":"object","description":"totals over the cameras (the same object as /api/status counters)","additionalProperties":{"type":"integer"}},"inference_ms_p50":{"type":["number","null"]},"end_to_end_ms_p50":{"type":["number","null"]}}}"#;

/// Foxglove's schemas with the nested types (time, colour, point) written out in place.
mod schemas {
    macro_rules! schema {
        ($($part:expr),* $(,)?) => { concat!($($part),*) };
    }
    pub const COMPRESSED_IMAGE: &str = schema!(
        r#"{"title":"foxglove.CompressedImage","description":"A compressed image","type":"object","properties":{"#,
        r#""timestamp":{"type":"object","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}},"#,
        r#""frame_id":{"type":"string"},"#,
        r#""data":{"type":"string","contentEncoding":"base64"},"#,
        r#""format":{"type":"string"}}}"#
    );
    pub const IMAGE_ANNOTATIONS: &str = schema!(
        r#"{"title":"foxglove.ImageAnnotations","description":"Array of annotations for a 2D image","type":"object","properties":{"#,
        r#""circles":{"type":"array","items":{"type":"object","properties":{"#,
        r#""timestamp":{"type":"object","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}},"#,
        r#""position":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}}},"#,
        r#""diameter":{"type":"number"},"thickness":{"type":"number"},"#,
        r#""fill_color":{"type":"object","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}},"#,
        r#""outline_color":{"type":"object","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}}}}},"#,
        r#""points":{"type":"array","items":{"type":"object","properties":{"#,
        r#""timestamp":{"type":"object","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}},"#,
        r#""type":{"type":"integer","description":"0 UNKNOWN, 1 POINTS, 2 LINE_LOOP, 3 LINE_STRIP, 4 LINE_LIST"},"#,
        r#""points":{"type":"array","items":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}}}},"#,
        r#""outline_color":{"type":"object","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}},"#,
        r#""outline_colors":{"type":"array","items":{"type":"object","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}}},"#,
        r#""fill_color":{"type":"object","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}},"#,
        r#""thickness":{"type":"number"}}}},"#,
        r#""texts":{"type":"array","items":{"type":"object","properties":{"#,
        r#""timestamp":{"type":"object","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}},"#,
        r#""position":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}}},"#,
        r#""text":{"type":"string"},"font_size":{"type":"number"},"#,
        r#""text_color":{"type":"object","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}},"#,
        r#""background_color":{"type":"object","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}}}}}}}"#
    );
}

/// Foxglove `PointsAnnotation` types used here.
const POINTS: u8 = 1;
const LINE_LIST: u8 = 4;
/// Keypoint dot and limb sizes in image pixels.
const KEYPOINT_SIZE: f64 = 5.0;
const LIMB_THICKNESS: f64 = 3.0;
const LABEL_FONT_SIZE: f64 = 14.0;

fn time(ns: u64) -> Value {
    json!({"sec": ns / 1_000_000_000, "nsec": ns % 1_000_000_000})
}

/// The display renderer's colour for `side`, as a Foxglove colour.
fn color(side: Side) -> Value {
    let p = Rgb565::PALETTE;
    let c: Rgb888 = match side {
        Side::Left => p.left,
        Side::Right => p.right,
        Side::Centre => p.centre,
    }
    .into();
    json!({"r": c.r() as f64 / 255.0, "g": c.g() as f64 / 255.0, "b": c.b() as f64 / 255.0, "a": 1.0})
}

/// `foxglove.CompressedImage` with `image` encoded as `format`.
pub fn compressed_image(
    image: &image::RgbImage,
    time_ns: u64,
    format: ImageFormat,
    quality: u8,
) -> Result<String, image::ImageError> {
    let mut bytes = Vec::with_capacity(image.len() / 6);
    let name = match format {
        ImageFormat::Jpeg => {
            image.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut bytes, quality,
            ))?;
            "jpeg"
        }
        ImageFormat::Png => {
            image.write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes))?;
            "png"
        }
    };
    Ok(json!({
        "timestamp": time(time_ns),
        "frame_id": "camera",
        "format": name,
        "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
    })
    .to_string())
}

/// The skeletons of `poses` as `foxglove.ImageAnnotations`: one LINE_LIST per person (limbs,
/// coloured by side like the display), one POINTS per person (keypoints), a "#id score" text.
pub fn image_annotations(poses: &FramePoses, time_ns: u64) -> Value {
    let t = time(time_ns);
    let mut points = Vec::new();
    let mut texts = Vec::new();
    for p in poses.persons.iter() {
        let k = &p.keypoints;
        let mut limbs = Vec::new();
        let mut limb_colors = Vec::new();
        for &(a, b) in COCO17_SKELETON.iter() {
            let (a, b) = (a as usize, b as usize);
            let (Some(ka), Some(kb)) = (k.get(a), k.get(b)) else {
                continue;
            };
            if ka.present && kb.present {
                limbs.push(json!({"x": ka.x, "y": ka.y}));
                limbs.push(json!({"x": kb.x, "y": kb.y}));
                limb_colors.push(color(limb_side(a, b)));
            }
        }
        let mut dots = Vec::new();
        let mut dot_colors = Vec::new();
        for (i, kp) in k.iter().enumerate().filter(|(_, kp)| kp.present) {
            dots.push(json!({"x": kp.x, "y": kp.y}));
            dot_colors.push(color(keypoint_side(i)));
        }
        if !limbs.is_empty() {
            points.push(json!({
                "timestamp": t, "type": LINE_LIST, "points": limbs,
                "outline_color": color(Side::Centre), "outline_colors": limb_colors,
                "fill_color": {"r": 0, "g": 0, "b": 0, "a": 0}, "thickness": LIMB_THICKNESS,
            }));
        }
        if let Some(first) = dots.first().cloned() {
            points.push(json!({
                "timestamp": t, "type": POINTS, "points": dots,
                "outline_color": color(Side::Centre), "outline_colors": dot_colors,
                "fill_color": color(Side::Centre), "thickness": KEYPOINT_SIZE,
            }));
            texts.push(json!({
                "timestamp": t, "position": first,
                "text": format!("#{} {:.2}", p.track_id, p.score),
                "font_size": LABEL_FONT_SIZE,
                "text_color": {"r": 1, "g": 1, "b": 0, "a": 1},
                "background_color": {"r": 0, "g": 0, "b": 0, "a": 0.6},
            }));
        }
    }
    json!({"circles": [], "points": points, "texts": texts})
}

/// The `/stats` message: totals over the cameras, latencies of the first.
pub fn stats_json(stats: &Stats, fps: f64, model: &str) -> Value {
    let p50 = |w: Option<&std::sync::Mutex<crate::pipeline::Window>>| {
        w.and_then(|w| {
            w.lock()
                .unwrap_or_else(|e| e.into_inner())
                .percentile_ms(0.5)
        })
    };
    let first = stats.cameras.first();
    json!({
        "model": model,
        "fps": fps,
        "counters": stats.counters_json(),
        "inference_ms_p50": p50(first.map(|c| &c.inference)),
        "end_to_end_ms_p50": p50(first.map(|c| &c.end_to_end)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_json() {
        for s in [
            COMPRESSED_IMAGE_SCHEMA,
            IMAGE_ANNOTATIONS_SCHEMA,
            POSE_FRAME_SCHEMA,
            STATS_SCHEMA,
        ] {
            let v: Value = serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"));
            assert_eq!(v["type"], "object");
        }
    }

    #[test]
    fn images_round_trip_through_the_message() {
        let mut img = image::RgbImage::new(8, 6);
        img.put_pixel(3, 2, image::Rgb([200, 10, 30]));
        let msg = compressed_image(&img, 1_500_000_000, ImageFormat::Png, 80).expect("encodes");
        let v: Value = serde_json::from_str(&msg).expect("json");
        assert_eq!(v["timestamp"]["sec"], 1);
        assert_eq!(v["timestamp"]["nsec"], 500_000_000);
        let (bytes, format) =
            crate::source::mcap_replay::decode_compressed_image(msg.as_bytes()).expect("decodes");
        assert_eq!(format, "png");
        let back = image::load_from_memory(&bytes).expect("png").to_rgb8();
        assert_eq!(back, img, "PNG frames are lossless");
        use crate::source::mcap_replay::decode_compressed_image as decode;
        assert!(decode(b"{\"data\": 3}").is_err());
        assert!(decode(b"garbage").is_err());
    }
}
