//! The skip-unless-CI rule, written once for every test binary (the decoder crate's tests
//! include this file too): a test that needs `../shared` or an external program skips with a
//! `skipped: ...` message on a user's machine and fails under `CI=true`, where everything is
//! installed and `../shared` is beside the clone. Plain std, so any crate can include it.
#![allow(dead_code)] // each binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether the tests run under CI (`CI=true`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether an external requirement is there; when it is not: skip with a message locally,
/// fail under CI=true.
pub fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if under_ci() {
        panic!("{what} is required under CI=true but missing");
    }
    eprintln!("skipped: {what} not found");
    false
}

/// Whether `program` can be executed.
pub fn have_program(program: &str, probe_arg: &str) -> bool {
    Command::new(program)
        .arg(probe_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The workspace root (the folder holding Cargo.lock), from any member crate.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|p| p.join("Cargo.lock").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}

/// `../shared/<rel>` beside the workspace (a file or folder), or `None` (skip; fails under
/// CI=true).
pub fn shared(rel: &str) -> Option<PathBuf> {
    let path = workspace_root().join("../shared").join(rel);
    require(path.exists(), &format!("../shared/{rel}")).then_some(path)
}

/// ../shared/data/coco-sample (real COCO images + `test_coco.json`), or `None` (skip).
pub fn coco_sample_dir() -> Option<PathBuf> {
    shared("data/coco-sample/test_coco.json").and_then(|p| p.parent().map(Path::to_path_buf))
}

/// Whether the tests run under qemu-user: `EDGEPOSE_QEMU=1` is set by the cross runners in
/// .cargo/config.toml and by scripts/cross-test-aarch64.sh.
pub fn under_emulation() -> bool {
    std::env::var_os("EDGEPOSE_QEMU").is_some_and(|v| v == "1")
}

/// Extra time a wall-clock check allows under qemu-user, where a frame in flight (the model
/// emulated 100-250x slower) takes tens of seconds; checks made for real hardware get this
/// much extra there.
pub const EMULATION_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(90);

/// The extra time a wall-clock check allows on this machine: [`EMULATION_ALLOWANCE`] under
/// qemu-user, nothing natively.
pub fn emulation_allowance() -> std::time::Duration {
    if under_emulation() {
        EMULATION_ALLOWANCE
    } else {
        std::time::Duration::ZERO
    }
}

/// Skips `test` (with a message saying `why`) under qemu-user; it runs natively.
pub fn skip_under_emulation(test: &str, why: &str) -> bool {
    if under_emulation() {
        eprintln!("skipped: {test}: {why} under qemu-user (EDGEPOSE_QEMU=1); runs natively");
        return true;
    }
    false
}
