//! The decoder crate on its own: property tests, the PAF family, TTA map averaging, the
//! Simple Pose reference fixtures (../shared) and SMPR. One binary (link time); the
//! allocation test is its own binary because it installs a counting global allocator.

/// The skip-unless-CI rule of the root crate's tests (plain std, shared by path).
#[path = "../../../tests/support/skip.rs"]
mod skip;

mod decode {
    mod conformance;
    mod paf;
    mod proptest;
    mod smpr;
    mod tta_maps;
}
