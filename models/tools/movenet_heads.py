#!/usr/bin/env python3
"""Builds the MoveNet MultiPose "heads" model: the shipped graph cut after its six head
convolutions, so that the daemon decodes the raw heads in Rust (edgepose-decoder
`movenet_heads`) instead of running the graph's CenterNet post-processing in tract.

Why: in tract about a quarter of the MoveNet run time is that post-processing (a ReduceMax
and element-wise ops over [H/4, W/4, 6, 17] tensors, exp() on every cell), work that a
decoder restricted to each person's box does in a fraction of the time.

The output `heads` is [1, 90, H/4, W/4] (NCHW), the channels in this order:

    0        centre heatmap (after sigmoid)                    StatefulPartitionedCall/Sigmoid:0
    1..18    17 keypoint heatmaps (after sigmoid)              StatefulPartitionedCall/Sigmoid_1:0
    18..52   keypoint regression from the centre, (dy, dx) × 17  kpt_regress_0/conv2d_8
    52..86   keypoint sub-cell offsets, (dy, dx) × 17           kpt_offset_0/conv2d_9
    86..88   box size (height, width) in cells                  box_scale_0/conv2d_5
    88..90   box centre offset (dy, dx) in cells                box_offset_0/conv2d_6

(channel 2k of a pair is y, 2k+1 is x: the graph reshapes them to [..., 17, 2] and adds
unstack[0] to the row index, unstack[1] to the column index). Everything downstream of the
heads is pruned; weights are unchanged. The script checks with onnxruntime that the new
model runs and that its channels equal the original graph's intermediate tensors.

    models/.venv/bin/python models/tools/movenet_heads.py
"""
import argparse
import hashlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

MODELS = Path(__file__).resolve().parent.parent
SRC = MODELS / "movenet_multipose_lightning.onnx"
DST = MODELS / "movenet_multipose_lightning_heads.onnx"

P = "StatefulPartitionedCall/"
#: (tensor, channels), in output order.
HEADS = [
    (P + "Sigmoid:0", 1),
    (P + "Sigmoid_1:0", 17),
    (P + "kpt_regress_0/conv2d_8/BiasAdd_BiasAdd__115:0", 34),
    (P + "kpt_offset_0/conv2d_9/BiasAdd_BiasAdd__114:0", 34),
    (P + "box_scale_0/conv2d_5/BiasAdd_BiasAdd__118:0", 2),
    (P + "box_offset_0/conv2d_6/BiasAdd_BiasAdd__117:0", 2),
]
OUTPUT = "heads"
CHANNELS = sum(c for _, c in HEADS)


def build(src: Path) -> onnx.ModelProto:
    model = onnx.load(str(src))
    g = model.graph
    produced = {o for n in g.node for o in n.output}
    for name, _ in HEADS:
        if name not in produced:
            raise SystemExit(f"{src}: no tensor {name} (a different MoveNet export?)")
    g.node.append(helper.make_node("Concat", [n for n, _ in HEADS], [OUTPUT], axis=1,
                                   name="edgepose/heads_concat"))
    # The batch is 1 (the input declares it); height and width follow the dynamic input.
    out = helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT,
                                        [1, CHANNELS, "heads_h", "heads_w"])
    del g.output[:]
    g.output.append(out)
    # Prune: keep only the nodes the new output needs (reverse topological sweep), and only
    # the initializers those nodes read.
    needed = {OUTPUT}
    keep = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    inits = [i for i in g.initializer if i.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    vis = [v for v in g.value_info if v.name in needed]
    del g.value_info[:]
    g.value_info.extend(vis)
    onnx.checker.check_model(model, full_check=True)
    return model


def check(model_path: Path, src: Path, size: tuple[int, int]) -> None:
    """The heads model runs, and its channels equal the original graph's tensors."""
    h, w = size
    x = np.random.default_rng(0).integers(0, 256, (1, h, w, 3)).astype(np.int32)
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    (heads,) = sess.run([OUTPUT], {"input": x})
    assert heads.shape == (1, CHANNELS, h // 4, w // 4), heads.shape
    # The original graph with the head tensors exposed as extra outputs.
    orig = onnx.load(str(src))
    for name, _ in HEADS:
        orig.graph.output.append(helper.make_empty_tensor_value_info(name))
    ref = ort.InferenceSession(orig.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = ref.run([n for n, _ in HEADS], {"input": x})
    c = 0
    for (name, ch), o in zip(HEADS, outs):
        assert o.shape == (1, ch, h // 4, w // 4), (name, o.shape)
        diff = float(np.abs(heads[:, c:c + ch] - o).max())
        assert diff <= 1e-5, f"{name}: max |diff| {diff}"
        c += ch
    print(f"ok: {model_path.name} at {w}x{h} -> {list(heads.shape)}, equals the graph's heads")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=SRC)
    ap.add_argument("--dst", type=Path, default=DST)
    a = ap.parse_args()
    model = build(a.src)
    onnx.save(model, str(a.dst))
    for size in [(288, 288), (256, 320)]:
        check(a.dst, a.src, size)
    data = a.dst.read_bytes()
    print(f"{a.dst}: sha256 {hashlib.sha256(data).hexdigest()} ({len(data):,} bytes), "
          f"{len(model.graph.node)} nodes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
