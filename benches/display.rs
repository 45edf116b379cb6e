//! Display rendering bench (filled in below as the renderer lands).

fn main() {}
