//! `edgepose eval` as a user runs it: the real binary on the fixture files.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edgepose::eval::Metrics;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eval")
        .join(name)
}

fn edgepose_eval<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgepose"))
        .arg("eval")
        .args(args)
        .output()
        .expect("edgepose runs")
}

fn fixture_args(extra: &[&str]) -> Output {
    let mut args: Vec<OsString> = vec![
        "--results".into(),
        fixture("dt.json").into(),
        "--annotations".into(),
        fixture("gt.json").into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    edgepose_eval(&args)
}

fn pycocotools_fixture_metrics() -> Metrics {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    let all: serde_json::Value = serde_json::from_str(&text).expect("json");
    serde_json::from_value(all["cases"]["fixture"].clone()).expect("fixture case")
}

#[test]
fn prints_the_pycocotools_table() {
    let out = fixture_args(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{stdout}");
    let want = pycocotools_fixture_metrics().to_array();
    for (line, w) in lines.iter().zip(want) {
        assert!(line.contains("maxDets= 20"), "{line}");
        assert!(line.ends_with(&format!("= {w:.3}")), "{line} vs {w}");
    }
    assert!(lines[0].starts_with(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all"));
    assert!(lines[4].contains("area= large"), "{}", lines[4]);
    assert!(lines[8].starts_with(" Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium"));
}

#[test]
fn json_output_is_machine_readable() {
    let out = fixture_args(&["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Metrics = serde_json::from_slice(&out.stdout).expect("stdout is a metrics object");
    let want = pycocotools_fixture_metrics();
    for ((name, g), w) in Metrics::NAMES
        .iter()
        .zip(got.to_array())
        .zip(want.to_array())
    {
        assert!((g - w).abs() <= 1e-6, "{name}: {g} vs {w}");
    }
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let gt = fixture("gt.json");
    let missing = fixture("no-such-results.json");
    let out = edgepose_eval(&[
        OsStr::new("--results"),
        missing.as_os_str(),
        OsStr::new("--annotations"),
        gt.as_os_str(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-results.json"), "{stderr}");

    // The ground truth passed as results: wrong shape, named as such.
    let out = edgepose_eval(&[
        OsStr::new("--results"),
        gt.as_os_str(),
        OsStr::new("--annotations"),
        gt.as_os_str(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a valid COCO results list"), "{stderr}");

    // No detections source at all: clap refuses.
    let out = edgepose_eval(&[OsStr::new("--annotations"), gt.as_os_str()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--results"));
}
