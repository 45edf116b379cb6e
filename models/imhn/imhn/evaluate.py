"""Sanity evaluation: a small Python port of the Simple Pose decoder + COCO keypoint AP.

Only for sanity checks while training. The project's official numbers come from the Rust
decoder and ``edgepose eval``; this port works on the stride-4 maps like the Rust one
(3x3 NMS, log-parabola sub-cell refinement, body-part sampling with bilinear interpolation, greedy
grouping of spec §5) but is not bit-compatible with it.

    python -m imhn.evaluate --model models/imhn-edge-fp32.onnx \
        --annotations /tmp/heldout/annotations.json --results /tmp/dt.json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import letterbox_matrix, load_coco, warp_image
from .skeleton import COCO_OF_KEYPOINT, KEYPOINT_OFFSET, NUM_KEYPOINTS, PARTS

#: COCO OKS sigmas (pycocotools).
OKS_SIGMAS = np.array(
    [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]
) / 10.0
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
MAX_DETS = 20
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass
class DecodeConfig:
    stride: int = 4
    peak_threshold: float = 0.1
    part_threshold: float = 0.1
    part_min_fraction: float = 0.8
    max_samples: int = 20
    merge_ratio: float = 0.7
    max_len_factor: float = 16.0
    min_keypoints: int = 3
    min_mean_score: float = 0.45


#: Values below this are treated as absent by the sub-cell refinement (log of ~0).
_REFINE_FLOOR = 1e-6


def _log_parabola(left: float, centre: float, right: float) -> float:
    """Sub-cell offset of a peak: parabola through the log values (exact for a Gaussian)."""
    if min(left, centre, right) <= _REFINE_FLOOR:
        return 0.0
    ll, lc, lr = np.log(left), np.log(centre), np.log(right)
    denom = ll - 2 * lc + lr
    if denom >= 0:
        return 0.0
    return float(np.clip(0.5 * (ll - lr) / denom, -0.5, 0.5))


def find_peaks(maps: np.ndarray, cfg: DecodeConfig) -> list[list[tuple[float, float, float]]]:
    """Per keypoint type: (x, y, score) in input pixels, row-major order."""
    out = []
    for k in range(NUM_KEYPOINTS):
        m = maps[KEYPOINT_OFFSET + k]
        h, w = m.shape
        p = np.pad(m, 1, mode="reflect")
        win = np.stack([p[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])
        is_peak = (m >= win.max(axis=0)) & (m >= cfg.peak_threshold)
        peaks = []
        for y, x in zip(*np.nonzero(is_peak)):
            dx = _log_parabola(m[y, x - 1], m[y, x], m[y, x + 1]) if 0 < x < w - 1 else 0.0
            dy = _log_parabola(m[y - 1, x], m[y, x], m[y + 1, x]) if 0 < y < h - 1 else 0.0
            s = cfg.stride
            peaks.append((s * (x + dx) + (s - 1) / 2, s * (y + dy) + (s - 1) / 2, float(m[y, x])))
        out.append(peaks)
    return out


def _bilinear(m: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = m.shape
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    return (m[y0, x0] * (1 - fx) * (1 - fy) + m[y0, x1] * fx * (1 - fy)
            + m[y1, x0] * (1 - fx) * fy + m[y1, x1] * fx * fy)


def decode(maps: np.ndarray, image_height: float, cfg: DecodeConfig | None = None) -> list[dict]:
    """Maps (50, h, w) -> persons {'kps18': (18,3) [x, y, score] input px, 'score'}."""
    cfg = cfg or DecodeConfig()
    peaks = find_peaks(maps, cfg)
    s = cfg.stride
    persons: list[dict] = []  # {'kp': [peak idx or -1]*18, 'conn': [score]*18, total, num, max_len}
    for k, (ta, tb) in enumerate(PARTS):
        pa, pb = peaks[ta], peaks[tb]
        if not pa or not pb:
            continue
        cands = []
        for i, (ax, ay, sa) in enumerate(pa):
            for j, (bx, by, sb) in enumerate(pb):
                length = float(np.hypot(bx - ax, by - ay))
                if length == 0:
                    continue
                n = min(int(round(length + 1)), cfg.max_samples)
                t = np.linspace(0.0, 1.0, n)
                xs = (ax + t * (bx - ax) - (s - 1) / 2) / s
                ys = (ay + t * (by - ay) - (s - 1) / 2) / s
                vals = _bilinear(maps[k], xs, ys)
                score = float(vals.mean()) + min(0.5 * image_height / length - 1.0, 0.0)
                if (vals > cfg.part_threshold).mean() >= cfg.part_min_fraction and score > 0:
                    cands.append((0.5 * score + 0.25 * sa + 0.25 * sb, i, j, score, length))
        cands.sort(key=lambda c: -c[0])
        used_a, used_b, conns = set(), set(), []
        for _, i, j, score, length in cands:
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            conns.append((i, j, score, length))
            if len(conns) >= min(len(pa), len(pb)):
                break
        for i, j, score, length in conns:
            owners = [p for p in persons if p["kp"][ta] == i or p["kp"][tb] == j]
            if len(owners) == 1:
                p = owners[0]
                if p["kp"][tb] == -1:
                    if cfg.max_len_factor * p["max_len"] > length:
                        p["kp"][tb], p["conn"][tb] = j, score
                        p["num"] += 1
                        p["total"] += pb[j][2] + score
                        p["max_len"] = max(p["max_len"], length)
                elif p["kp"][tb] != j:
                    if p["conn"][tb] < score and cfg.max_len_factor * p["max_len"] > length:
                        old = p["kp"][tb]
                        p["total"] -= pb[old][2] + p["conn"][tb]
                        p["kp"][tb], p["conn"][tb] = j, score
                        p["total"] += pb[j][2] + score
                        p["max_len"] = max(p["max_len"], length)
                elif p["conn"][tb] <= score:
                    p["total"] += score - p["conn"][tb]
                    p["conn"][tb] = score
            elif len(owners) == 2:
                p1, p2 = owners
                shared = any(a >= 0 and b >= 0 for a, b in zip(p1["kp"], p2["kp"]))
                if not shared:
                    conn_scores = [c for c, kp in zip(p1["conn"] + p2["conn"], p1["kp"] + p2["kp"]) if kp >= 0]
                    min_conn = min(conn_scores) if conn_scores else 0.0
                    if score >= cfg.merge_ratio * min_conn and cfg.max_len_factor * p1["max_len"] > length:
                        for t in range(NUM_KEYPOINTS):
                            if p2["kp"][t] >= 0:
                                p1["kp"][t], p1["conn"][t] = p2["kp"][t], p2["conn"][t]
                        p1["num"] += p2["num"]
                        p1["total"] += p2["total"] + score
                        p1["max_len"] = max(p1["max_len"], p2["max_len"], length)
                        persons.remove(p2)
            elif not owners:
                kp, conn = [-1] * NUM_KEYPOINTS, [0.0] * NUM_KEYPOINTS
                kp[ta], kp[tb] = i, j
                conn[ta] = conn[tb] = score
                persons.append({"kp": kp, "conn": conn, "num": 2, "max_len": length,
                                "total": pa[i][2] + pb[j][2] + score})
    result = []
    for p in persons:
        if p["num"] < cfg.min_keypoints or p["total"] / p["num"] < cfg.min_mean_score:
            continue
        kps = np.zeros((NUM_KEYPOINTS, 3))
        for t, idx in enumerate(p["kp"]):
            if idx >= 0:
                kps[t] = peaks[t][idx]
        result.append({"kps18": kps, "score": 1.0 - 1.0 / p["total"]})
    return result


def to_coco17(kps18: np.ndarray) -> np.ndarray:
    out = np.zeros((17, 3))
    for k, c in enumerate(COCO_OF_KEYPOINT):
        if c is not None:
            out[c] = kps18[k]
    return out


def oks(gt: np.ndarray, area: float, dt: np.ndarray, bbox) -> float:
    """pycocotools' OKS for one gt (17,3) and one detection (17,3)."""
    var = (2 * OKS_SIGMAS) ** 2
    vis = gt[:, 2] > 0
    if vis.any():
        dx, dy = dt[:, 0] - gt[:, 0], dt[:, 1] - gt[:, 1]
    else:
        x0, y0, w, h = bbox
        xa, xb, ya, yb = x0 - w, x0 + 2 * w, y0 - h, y0 + 2 * h
        dx = np.maximum(0, xa - dt[:, 0]) + np.maximum(0, dt[:, 0] - xb)
        dy = np.maximum(0, ya - dt[:, 1]) + np.maximum(0, dt[:, 1] - yb)
    e = (dx**2 + dy**2) / var / (area + np.spacing(1)) / 2
    if vis.any():
        e = e[vis]
    return float(np.exp(-e).sum() / e.shape[0])


def keypoint_ap(coco: dict, results: list[dict]) -> dict:
    """AP / AP50 / AP75 over all areas, maxDets 20, crowd and no-keypoint gts ignored."""
    gts: dict[int, list[dict]] = {}
    for a in coco["annotations"]:
        gts.setdefault(a["image_id"], []).append(a)
    dts: dict[int, list[dict]] = {}
    for r in results:
        dts.setdefault(r["image_id"], []).append(r)
    n_thr = len(OKS_THRESHOLDS)
    scores, matched = [], [[] for _ in range(n_thr)]
    npos = 0
    for im in coco["images"]:
        g = [a for a in gts.get(im["id"], [])]
        ignore = np.array([bool(a.get("iscrowd", 0)) or a.get("num_keypoints", 0) == 0 for a in g])
        npos += int((~ignore).sum()) if len(g) else 0
        d = sorted(dts.get(im["id"], []), key=lambda r: -r["score"])[:MAX_DETS]
        if not d:
            continue
        ious = np.array([[oks(np.reshape(a["keypoints"], (17, 3)), a["area"], np.reshape(r["keypoints"], (17, 3)), a["bbox"])
                          for a in g] for r in d]).reshape(len(d), len(g))
        order = np.argsort(ignore, kind="stable")  # non-ignored gts first
        for t, thr in enumerate(OKS_THRESHOLDS):
            taken = np.zeros(len(g), dtype=bool)
            for di in range(len(d)):
                best, best_iou = -1, min(thr, 1 - 1e-10)
                for gi in order:
                    if taken[gi] and not ignore[gi]:
                        continue
                    if best >= 0 and not ignore[best] and ignore[gi]:
                        break
                    if ious[di, gi] < best_iou:
                        continue
                    best, best_iou = gi, ious[di, gi]
                if best >= 0:
                    taken[best] = True
                    matched[t].append(0 if ignore[best] else 1)
                else:
                    matched[t].append(-1)
        scores.extend(r["score"] for r in d)
    scores = np.array(scores)
    order = np.argsort(-scores, kind="mergesort")
    aps = []
    for t in range(n_thr):
        m = np.array(matched[t])[order] if len(order) else np.zeros(0)
        keep = m != 0
        tp = np.cumsum(m[keep] == 1)
        fp = np.cumsum(m[keep] == -1)
        if npos == 0:
            aps.append(0.0)
            continue
        rc = tp / npos
        pr = tp / np.maximum(tp + fp, np.spacing(1))
        pr = np.maximum.accumulate(pr[::-1])[::-1] if len(pr) else pr
        inds = np.searchsorted(rc, RECALL_POINTS, side="left")
        q = np.array([pr[i] if i < len(pr) else 0.0 for i in inds])
        aps.append(float(q.mean()))
    return {"AP": float(np.mean(aps)), "AP50": aps[0], "AP75": aps[5], "gt": npos, "detections": len(scores)}


class OnnxRunner:
    def __init__(self, path: str | Path, threads: int = 1):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        shape = self.sess.get_inputs()[0].shape
        self.height, self.width = int(shape[2]), int(shape[3])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.sess.run(["maps"], {"image": x})[0]


def predict_coco(runner, coco: dict, image_dir: Path, cfg: DecodeConfig | None = None) -> list[dict]:
    """COCO results list for every image of ``coco`` (top-left letterbox like the reference)."""
    from PIL import Image

    results = []
    for im in coco["images"]:
        with Image.open(image_dir / im["file_name"]) as img:
            img = img.convert("RGB")
        m = letterbox_matrix(img.width, img.height, runner.width, runner.height)
        x = np.asarray(warp_image(img, m, runner.width, runner.height), dtype=np.float32)
        x = (x.transpose(2, 0, 1) / 255.0)[None].astype(np.float32)
        maps = runner(x)[0]
        inv = np.linalg.inv(m)
        for p in decode(maps, runner.height, cfg):
            k17 = to_coco17(p["kps18"])
            present = k17[:, 2] > 0
            xy = np.concatenate([k17[:, :2], np.ones((17, 1))], axis=1) @ inv.T
            k17[:, :2] = np.where(present[:, None], xy[:, :2], 0.0)
            results.append({"image_id": im["id"], "category_id": 1,
                            "keypoints": [round(float(v), 3) for v in k17.reshape(-1)],
                            "score": round(float(p["score"]), 5)})
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="ONNX model")
    p.add_argument("--annotations", required=True)
    p.add_argument("--images")
    p.add_argument("--results", help="write COCO results json here")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    coco = load_coco(Path(args.annotations))
    image_dir = Path(args.images) if args.images else Path(args.annotations).parent / "images"
    results = predict_coco(OnnxRunner(args.model, args.threads), coco, image_dir)
    if args.results:
        Path(args.results).write_text(json.dumps(results))
    print(json.dumps(keypoint_ap(coco, results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
