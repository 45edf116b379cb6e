//! `edgepose detect` on real images: JSON lines per image, `--draw`, and a broken image in
//! the list that is reported while the others are still processed.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");

#[test]
fn json_lines_draw_and_bad_images() {
    let Some(img) = crate::support::shared("data/coco-sample/000000000785.jpg") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let truncated = dir.path().join("truncated.jpg");
    let bytes = std::fs::read(&img).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let missing = dir.path().join("missing.jpg");
    let draw = dir.path().join("out.png");
    let o = Command::new(BIN)
        .args([
            "detect",
            "--model",
            "movenet-multipose-lightning",
            "--json",
            "--draw",
        ])
        .arg(&draw)
        .arg(&truncated)
        .arg(&img)
        .arg(&missing)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "failures make the exit code non-zero");
    assert!(
        stderr.contains("truncated.jpg") && stderr.contains("missing.jpg"),
        "{stderr}"
    );
    assert!(stderr.contains("2 of 3 images failed"), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "the good image still gets its line");
    let line = &lines[0];
    assert_eq!(
        (line["width"].as_u64(), line["height"].as_u64()),
        (Some(640), Some(425))
    );
    let persons = line["persons"].as_array().expect("persons");
    assert_eq!(persons.len(), 1, "000000000785.jpg shows one person");
    let kps = persons[0]["keypoints"].as_array().expect("keypoints");
    assert_eq!(kps.len(), 17);
    // The skier stands in the middle-left of the picture: the nose is above the ankles.
    let y = |i: usize| kps[i].as_array().and_then(|k| k[1].as_f64());
    if let (Some(nose), Some(ankle)) = (y(0), y(15)) {
        assert!(nose < ankle, "nose {nose} above ankle {ankle}");
    }
    // --draw with several images numbers the outputs; the good one is the second (index 1).
    let drawn = dir.path().join("out_1.png");
    let png = image::open(&drawn).expect("drawn image written").to_rgb8();
    assert_eq!(png.dimensions(), (640, 425));
    let original = image::open(&img).expect("decodes").to_rgb8();
    let changed = png.pixels().zip(original.pixels()).filter(|(a, b)| {
        a.0.iter()
            .zip(b.0.iter())
            .any(|(x, y)| (*x as i32 - *y as i32).abs() > 24)
    });
    assert!(
        changed.count() > 200,
        "skeleton pixels drawn over the photo"
    );
}

/// A reader that goes away (`edgepose detect ... | head -n1`) ends the command the way it ends
/// other Unix filters, by SIGPIPE, not with a panic about a broken pipe.
#[test]
fn a_closed_pipe_ends_the_command_without_a_panic() {
    use std::os::unix::process::ExitStatusExt as _;
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("grey.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([128, 128, 128]))
        .save(&img)
        .expect("write png");
    let mut child = Command::new(BIN)
        .args(["detect", "--model", "imhn-edge-fp32"])
        .arg(&img)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Close the read end before the model has loaded: the first line meets a broken pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "ended by SIGPIPE: {:?} {stderr}",
        out.status
    );
}
