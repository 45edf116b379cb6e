"""Distil an edge-sized IMHN from a teacher ONNX on unlabelled images.

    python -m imhn.distill --teacher models/imhn-reference.onnx --images footage/ rec.mcap \\
        --out runs/distil --preset edge --size 256 --time-budget-min 60 --export student.onnx

The teacher (any Simple Pose ONNX with edgepose's contract: ``image`` NCHW RGB pixel/255 ->
``maps`` [1,50,H/4,W/4]) runs once per image and once on its mirror (onnxruntime); its
stride-4 maps, clamped to [0, 1] and average-pooled to the coarser scales, are the student's
targets at all five scales, with the focal L2 loss of training (``imhn.loss``; paper eq. 2-4).
Images: folders (recursively), image files and edgepose MCAP recordings (``imhn.images``).
A held-out part of the images (``--val-fraction``) measures the focal loss against the
teacher's maps; ``--heldout-annotations`` (COCO keypoints) adds the AP of student and teacher.
The student is written as ``last.pt`` in ``imhn.train``'s format, so ``imhn.export``,
``imhn.quantize`` and ``scripts/finish_edge.sh`` take it as they take a trained one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import DataError
from .images import load_images
from .loss import multiscale_loss
from .model import IMHN, ImhnConfig, count_parameters
from .targets import TargetConfig
from .train import PRESETS, save_checkpoint

#: Teacher maps are clamped to the target range the focal weighting assumes.
TARGET_RANGE = (0.0, 1.0)
#: Default size of a dynamic-size teacher's input (the edge model's).
DEFAULT_SIZE = 256
#: Images the teacher labels per onnxruntime call.
TEACHER_BATCH = 1


class Teacher:
    """A Simple Pose ONNX run by onnxruntime; ``size`` is its static (W, H) or ``None``."""

    def __init__(self, path: str | Path, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        try:
            self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/NoSuchFile
            raise DataError(f"teacher {path}: cannot load ({e})") from e
        inp, out = self.sess.get_inputs()[0], self.sess.get_outputs()[0]
        self.input_name, self.output_name = inp.name, out.name
        h, w = inp.shape[2], inp.shape[3]
        self.size = (w, h) if isinstance(w, int) and isinstance(h, int) else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.sess.run([self.output_name], {self.input_name: x})[0]
        if y.ndim != 4 or y.shape[1] != 50:
            raise DataError(f"teacher output has shape {list(y.shape)}; a Simple Pose map [1,50,H/4,W/4] is needed")
        if not np.isfinite(y).all():
            raise DataError("teacher output holds NaN or infinite values")
        return y


def label(teacher: Teacher, images: np.ndarray, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    """(images, teacher maps), with each image's mirror appended when ``mirror``."""
    xs = [images, images[..., ::-1]] if mirror else [images]
    x = np.ascontiguousarray(np.concatenate(xs))
    maps = np.concatenate([teacher(x[i : i + TEACHER_BATCH]) for i in range(0, len(x), TEACHER_BATCH)])
    return x, np.clip(maps, *TARGET_RANGE).astype(np.float32)


def pyramid(maps: torch.Tensor, scales: int) -> list[torch.Tensor]:
    """Stride-4 maps and their 2x2 average pools (the training targets' construction)."""
    out = [maps]
    for _ in range(scales - 1):
        out.append(F.avg_pool2d(out[-1], 2))
    return out


def focal_loss(net: IMHN, x: torch.Tensor, maps: torch.Tensor, focal: bool = True) -> torch.Tensor:
    targets = pyramid(maps, net.cfg.order + 1)
    masks = [torch.ones_like(t[:, :1]) for t in targets]
    loss, _ = multiscale_loss(net(x), targets, masks, focal=focal)
    return loss


@torch.no_grad()
def mean_loss(net: IMHN, x: np.ndarray, maps: np.ndarray, batch: int) -> float:
    """Focal L2 per image against the teacher, eval mode (held-out measure)."""
    was = net.training
    net.eval()
    total = 0.0
    for i in range(0, len(x), batch):
        xb, mb = torch.from_numpy(x[i : i + batch]), torch.from_numpy(maps[i : i + batch])
        total += float(focal_loss(net, xb, mb)) * len(xb)
    net.train(was)
    return total / max(len(x), 1)


class TorchRunner:
    """``imhn.evaluate.predict_coco``'s runner interface for a PyTorch student."""

    def __init__(self, net: IMHN, width: int, height: int):
        self.net, self.width, self.height = net, width, height

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.net.eval()
        return self.net(torch.from_numpy(x))[-1][0].numpy()


class TeacherRunner:
    def __init__(self, teacher: Teacher, width: int, height: int):
        self.teacher, self.width, self.height = teacher, width, height

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.teacher(x)


def heldout_ap(runner, annotations: Path, images: Path | None) -> float:
    from .data import load_coco
    from .evaluate import keypoint_ap, predict_coco

    coco = load_coco(annotations)
    image_dir = images or annotations.parent / "images"
    return keypoint_ap(coco, predict_coco(runner, coco, image_dir))["AP"]


def build_student(args: argparse.Namespace, width: int, height: int) -> ImhnConfig:
    d = dict(PRESETS[args.preset])
    for k in ("stacks", "inp_dim", "increase", "head_dim"):
        if getattr(args, k) is not None:
            d[k] = getattr(args, k)
    d["input_width"], d["input_height"] = width, height
    return ImhnConfig(**d)


def distill(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    teacher = Teacher(args.teacher, args.threads or 1)
    width, height = teacher.size or (args.size, args.size)
    if teacher.size and args.size and (args.size, args.size) != teacher.size:
        print(f"note: the teacher's input is fixed at {width}x{height}; --size {args.size} is not used", flush=True)
    images = load_images(args.images, width, height, limit=args.max_images)
    n_val = max(1, round(len(images) * args.val_fraction)) if len(images) > 1 else 0
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(images))
    t0 = time.time()
    x_train, m_train = label(teacher, images[order[n_val:]], mirror=not args.no_mirror)
    x_val, m_val = label(teacher, images[order[:n_val]], mirror=False)
    label_s = time.time() - t0

    cfg = build_student(args, width, height)
    net = IMHN(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps = args.steps
    budget = args.time_budget_min * 60 if args.time_budget_min else None
    t_train = time.time()

    def progress(step: int) -> float:
        p = step / max(steps, 1)
        if budget:
            p = max(p, (time.time() - t_train) / budget)
        return min(p, 1.0)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress(s))))
    info = {
        "teacher": str(args.teacher), "images": len(images), "train_samples": len(x_train),
        "val_images": len(x_val), "size": [width, height], "params": count_parameters(net),
        "config": cfg.to_dict(), "label_s": round(label_s, 1),
    }
    print(json.dumps(info), flush=True)
    history = []
    val0 = mean_loss(net, x_val, m_val, args.batch_size) if n_val else float("nan")
    history.append({"step": 0, "val_loss": val0, "elapsed_s": 0.0})
    print(json.dumps(history[-1]), flush=True)
    t_train = time.time()
    step = 0
    log = open(out / "distill_log.jsonl", "w", encoding="utf-8")
    net.train()
    done = False
    while not done:
        for idx in np.array_split(rng.permutation(len(x_train)), max(1, len(x_train) // args.batch_size)):
            xb, mb = torch.from_numpy(x_train[idx]), torch.from_numpy(m_train[idx])
            loss = focal_loss(net, xb, mb, focal=step >= args.l2_steps)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            elapsed = time.time() - t_train
            done = step >= steps or (budget is not None and elapsed > budget)
            if step % args.eval_every == 0 or done:
                rec = {"step": step, "train_loss": loss.item(), "elapsed_s": round(elapsed, 1),
                       "lr": sched.get_last_lr()[0]}
                if n_val:
                    rec["val_loss"] = mean_loss(net, x_val, m_val, args.batch_size)
                history.append(rec)
                log.write(json.dumps(rec) + "\n")
                log.flush()
                print(json.dumps(rec), flush=True)
            if done:
                break
    log.close()
    net.eval()
    save_checkpoint(out / "last.pt", net, opt, 0, cfg, TargetConfig.for_input(height),
                    [{"distilled_from": str(args.teacher), **h} for h in history])
    result = {**info, "steps": step, "train_s": round(time.time() - t_train, 1),
              "val_loss_start": val0, "val_loss_end": history[-1].get("val_loss", float("nan"))}
    if args.heldout_annotations:
        ann = Path(args.heldout_annotations)
        imgs = Path(args.heldout_images) if args.heldout_images else None
        result["ap_student"] = heldout_ap(TorchRunner(net, width, height), ann, imgs)
        result["ap_teacher"] = heldout_ap(TeacherRunner(teacher, width, height), ann, imgs)
    if args.export:
        from .export import export_onnx

        export_onnx(net, args.export, height, width)
        result["export"] = str(args.export)
    (out / "distill_result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "config"}), flush=True)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", required=True, help="teacher ONNX (edgepose Simple Pose contract)")
    p.add_argument("--images", required=True, nargs="+", help="folders, image files, edgepose .mcap recordings")
    p.add_argument("--out", required=True, help="run folder (last.pt, distill_log.jsonl, distill_result.json)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="edge")
    p.add_argument("--stacks", type=int)
    p.add_argument("--inp-dim", type=int)
    p.add_argument("--increase", type=int)
    p.add_argument("--head-dim", type=int)
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help="square input of a dynamic-size teacher")
    p.add_argument("--max-images", type=int)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--no-mirror", action="store_true", help="do not add mirrored images")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--time-budget-min", type=float, help="stop after this many minutes of training")
    p.add_argument("--l2-steps", type=int, default=0, help="plain L2 steps before focal L2")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--heldout-annotations", help="COCO keypoints json: report student and teacher AP")
    p.add_argument("--heldout-images")
    p.add_argument("--export", help="write the student's ONNX here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        distill(args)
    except (DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
