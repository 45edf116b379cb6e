//! Decoding must not touch the heap: a counting global allocator checks that a decode call
//! makes zero allocations once the workspace exists (both bottom-up families, MoveNet heads).

use edgepose_decoder::movenet_heads::{BOX_SCALE_CHANNEL, REGRESS_CHANNEL};
use edgepose_decoder::skeleton::{
    OPENPOSE_NUM_CHANNELS, SIMPLEPOSE_KEYPOINT_OFFSET, SIMPLEPOSE_NUM_CHANNELS, SIMPLEPOSE_PARTS,
};
use edgepose_decoder::{
    decode_movenet_heads, decode_paf, decode_simplepose, DecoderConfig, Geometry, Layout,
    Letterbox, MapView, SingleStageConfig, Workspace, MOVENET_HEADS_CHANNELS,
};
use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Only the measuring thread counts (the test harness allocates on its own threads).
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Per thread, so that tests measuring in parallel do not reset each other's count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    if ACTIVE.with(|a| a.get()) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn count_allocs(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    ACTIVE.with(|a| a.set(true));
    f();
    ACTIVE.with(|a| a.set(false));
    ALLOCATIONS.with(|n| n.get())
}

/// Simple Pose CHW maps (stride 4) with one person: keypoint Gaussians and part ridges.
fn simplepose_maps(h: usize, w: usize) -> Vec<f32> {
    let joints: [(f32, f32); 18] = [
        (64.0, 30.0),
        (64.0, 50.0),
        (50.0, 50.0),
        (45.0, 75.0),
        (42.0, 100.0),
        (78.0, 50.0),
        (83.0, 75.0),
        (86.0, 100.0),
        (55.0, 100.0),
        (54.0, 135.0),
        (53.0, 170.0),
        (73.0, 100.0),
        (74.0, 135.0),
        (75.0, 170.0),
        (60.0, 26.0),
        (68.0, 26.0),
        (55.0, 28.0),
        (73.0, 28.0),
    ];
    let mut d = vec![0.0f32; SIMPLEPOSE_NUM_CHANNELS * h * w];
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (4.0 * x as f32 + 1.5, 4.0 * y as f32 + 1.5);
            for (k, &(jx, jy)) in joints.iter().enumerate() {
                let g = (-((px - jx).powi(2) + (py - jy).powi(2)) / 98.0).exp();
                d[((SIMPLEPOSE_KEYPOINT_OFFSET + k) * h + y) * w + x] = g;
            }
            for (p, &(a, b)) in SIMPLEPOSE_PARTS.iter().enumerate() {
                let (ax, ay) = joints[a as usize];
                let (bx, by) = joints[b as usize];
                let inside = px >= ax.min(bx) - 4.0
                    && px <= ax.max(bx) + 4.0
                    && py >= ay.min(by) - 4.0
                    && py <= ay.max(by) + 4.0;
                if inside {
                    let len = (bx - ax).hypot(by - ay);
                    let dist = ((px - ax) * (by - ay) - (py - ay) * (bx - ax)).abs() / len;
                    d[(p * h + y) * w + x] = (-dist * dist / 98.0).exp().max(0.01);
                }
            }
        }
    }
    d
}

#[test]
fn decode_calls_do_not_allocate() {
    let (h, w) = (48, 32);
    let sp = simplepose_maps(h, w);
    let sp_map = MapView::new(&sp, SIMPLEPOSE_NUM_CHANNELS, h, w, Layout::Chw).expect("view");
    let sp_geom = Geometry::simplepose(Letterbox::IDENTITY, 128.0, 192.0);
    // A noisy PAF tensor: many peaks and candidate pairs, HWC.
    let (ph, pw) = (30, 30);
    let paf: Vec<f32> = (0..ph * pw * OPENPOSE_NUM_CHANNELS)
        .map(|i| ((i as u64).wrapping_mul(2654435761) % 1000) as f32 / 1000.0)
        .collect();
    let paf_map = MapView::new(&paf, OPENPOSE_NUM_CHANNELS, ph, pw, Layout::Hwc).expect("view");
    let paf_geom = Geometry::tfpose(Letterbox::IDENTITY, 240.0, 240.0);
    let cfg = DecoderConfig::default();
    let mut ws = Box::new(Workspace::new());

    // Warm-up (and a check that the Simple Pose maps really decode to a person).
    let (persons, _) = decode_simplepose(&sp_map, &sp_geom, &cfg, &mut ws).expect("decode");
    assert_eq!(persons.len(), 1);
    decode_paf(&paf_map, &paf_geom, &cfg, &mut ws).expect("decode");

    let mut total_persons = 0;
    let n = count_allocs(|| {
        for _ in 0..5 {
            let (p, _) = decode_simplepose(&sp_map, &sp_geom, &cfg, &mut ws).expect("decode");
            total_persons += p.len();
            let (p, _) = decode_paf(&paf_map, &paf_geom, &cfg, &mut ws).expect("decode");
            total_persons += p.len();
        }
    });
    assert!(total_persons >= 5);
    assert_eq!(n, 0, "decode allocated {n} times");
    // The counter itself works.
    let n = count_allocs(|| drop(std::hint::black_box(vec![1u8; 16])));
    assert_eq!(n, 1);
}

#[test]
fn movenet_heads_decode_does_not_allocate() {
    // 288x288 input: a 72x72 heads map of pseudo-random values in [0, 1), with regressions
    // of a few cells and boxes of 30 cells so that persons come out.
    let (h, w) = (72, 72);
    let mut d: Vec<f32> = (0..MOVENET_HEADS_CHANNELS * h * w)
        .map(|i| ((i as u64).wrapping_mul(2654435761) % 1000) as f32 / 1000.0)
        .collect();
    for (i, v) in d.iter_mut().enumerate() {
        let c = i / (h * w);
        if (REGRESS_CHANNEL..REGRESS_CHANNEL + 34).contains(&c) {
            *v = 10.0 * *v - 5.0;
        } else if c == BOX_SCALE_CHANNEL || c == BOX_SCALE_CHANNEL + 1 {
            *v = 30.0;
        }
    }
    let map = MapView::new(&d, MOVENET_HEADS_CHANNELS, h, w, Layout::Chw).expect("view");
    let cfg = SingleStageConfig::default();
    let lb = Letterbox::IDENTITY;
    let (persons, _) = decode_movenet_heads(&map, 288.0, 288.0, &lb, &cfg).expect("decode");
    assert!(!persons.is_empty());
    let mut total = 0;
    let n = count_allocs(|| {
        for _ in 0..5 {
            let (p, _) = decode_movenet_heads(&map, 288.0, 288.0, &lb, &cfg).expect("decode");
            total += p.len();
        }
    });
    assert_eq!(total, 5 * persons.len());
    assert_eq!(n, 0, "decode allocated {n} times");
}
