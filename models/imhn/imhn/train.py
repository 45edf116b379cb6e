"""Train an IMHN on COCO-format keypoint data (``edgepose synth`` output or real COCO).

Example (the edge model)::

    python -m imhn.train --annotations /tmp/synth/annotations.json --preset edge \
        --epochs 10 --out runs/edge

Checkpoints (``last.pt``, every epoch) hold the model, optimiser, epoch and configs, so
``--resume runs/edge/last.pt`` continues a run. Schedule as in the paper: plain L2 for the
first ``--l2-epochs`` epochs, then focal L2. Adam is the default here (converges in far
fewer steps than the paper's SGD lr 1e-4, which matters on small budgets); ``--optimizer
sgd`` gives the paper's setting.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from .data import AugmentConfig, CocoKeypoints, DataError
from .loss import multiscale_loss
from .model import IMHN, ImhnConfig, count_macs, count_parameters
from .targets import TargetConfig

#: Named architecture presets (``reference`` is the paper's 4-stack model).
PRESETS = {
    "tiny": dict(stacks=2, inp_dim=16, increase=8, head_dim=16, input_width=64, input_height=64),
    "edge": dict(stacks=1, inp_dim=64, increase=32, head_dim=64, input_width=256, input_height=256),
    # The reference's identity mappings too, so imported weights (imhn.import_reference) fit.
    "reference": dict(stacks=4, inp_dim=256, increase=128, head_dim=256, input_width=512, input_height=512,
                      merge_into="outputs", merge_from="head"),
}


def _collate(batch):
    images = torch.from_numpy(np.stack([b[0] for b in batch]))
    scales = len(batch[0][1])
    targets = [torch.from_numpy(np.stack([b[1][s] for b in batch])) for s in range(scales)]
    masks = [torch.from_numpy(np.stack([b[2][s] for b in batch])) for s in range(scales)]
    return images, targets, masks


def build_config(args: argparse.Namespace) -> ImhnConfig:
    d = dict(PRESETS[args.preset])
    for k in ("stacks", "inp_dim", "increase", "head_dim"):
        v = getattr(args, k)
        if v is not None:
            d[k] = v
    if args.input_size is not None:
        d["input_width"] = d["input_height"] = args.input_size
    return ImhnConfig(**d)


def save_checkpoint(path: Path, net, opt, epoch: int, cfg: ImhnConfig, tcfg: TargetConfig, history) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": net.state_dict(),
            "optimizer": opt.state_dict(),
            "epoch": epoch,
            "config": cfg.to_dict(),
            "target_config": asdict(tcfg),
            "history": history,
        },
        tmp,
    )
    tmp.replace(path)


def load_model(checkpoint: str | Path, map_location="cpu") -> tuple[IMHN, dict]:
    """Model (eval mode) and the raw checkpoint dict."""
    try:
        ck = torch.load(checkpoint, map_location=map_location, weights_only=False)
    except OSError as e:
        raise DataError(f"cannot read checkpoint {checkpoint}: {e}") from e
    net = IMHN(ImhnConfig.from_dict(ck["config"]))
    net.load_state_dict(ck["model"])
    net.eval()
    return net, ck


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--annotations", required=True, help="COCO person-keypoints json")
    p.add_argument("--images", help="image folder (default: <annotations dir>/images)")
    p.add_argument("--out", required=True, help="run folder for checkpoints and logs")
    p.add_argument("--preset", choices=sorted(PRESETS), default="edge")
    p.add_argument("--stacks", type=int)
    p.add_argument("--inp-dim", type=int)
    p.add_argument("--increase", type=int)
    p.add_argument("--head-dim", type=int)
    p.add_argument("--input-size", type=int, help="square input size (multiple of 64)")
    p.add_argument("--sigma-keypoint", type=float, help="default: 9 px scaled to the input size")
    p.add_argument("--sigma-part", type=float, help="default: 7 px scaled to the input size")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--l2-epochs", type=int, default=1, help="plain L2 epochs before focal L2")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--max-images", type=int)
    p.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    p.add_argument("--time-budget-min", type=float,
                   help="stop after this many minutes; the LR schedule then follows elapsed time")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    p.add_argument("--resume", help="checkpoint to continue from")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = build_config(args)
    tcfg = TargetConfig.for_input(cfg.input_height)
    if args.sigma_keypoint:
        tcfg.sigma_keypoint = args.sigma_keypoint
    if args.sigma_part:
        tcfg.sigma_part = args.sigma_part
    tcfg.pooled_scales = cfg.order
    ds = CocoKeypoints(
        args.annotations, args.images, (cfg.input_width, cfg.input_height), tcfg,
        AugmentConfig.none() if args.no_augment else AugmentConfig(), args.seed, args.max_images,
    )
    device = torch.device(args.device)
    net = IMHN(cfg).to(device)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    start_epoch, history = 0, []
    if args.resume:
        ck = torch.load(args.resume, map_location=device, weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start_epoch, history = ck["epoch"] + 1, ck.get("history", [])
    steps_per_epoch = math.ceil(len(ds) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    # Cosine decay to 2% of the base rate: smooth, no schedule tuning on short runs.
    done = start_epoch * steps_per_epoch
    t_start = time.time()
    budget_s = args.time_budget_min * 60 if args.time_budget_min else None

    def progress(step: int) -> float:
        p = (step + done) / max(total_steps, 1)
        if budget_s:
            p = max(p, (time.time() - t_start) / budget_s)
        return min(p, 1.0)

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress(step)))
    )
    info = {
        "params": count_parameters(net),
        "macs": count_macs(net, cfg.input_height, cfg.input_width),
        "images": len(ds),
        "config": cfg.to_dict(),
        "target_config": asdict(tcfg),
    }
    print(json.dumps(info), flush=True)
    (out / "info.json").write_text(json.dumps(info, indent=2))
    step = 0
    t0 = time.time()
    log = open(out / "log.jsonl", "a", encoding="utf-8")
    for epoch in range(start_epoch, args.epochs):
        ds.set_epoch(epoch)
        loader = DataLoader(
            ds, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
            collate_fn=_collate, drop_last=len(ds) > args.batch_size,
            generator=torch.Generator().manual_seed(args.seed + epoch),
            persistent_workers=False,
        )
        focal = epoch >= args.l2_epochs
        net.train()
        sums, n = 0.0, 0
        last_scales: list[float] = []
        for images, targets, masks in loader:
            images = images.to(device, non_blocking=True)
            targets = [t.to(device, non_blocking=True) for t in targets]
            masks = [m.to(device, non_blocking=True) for m in masks]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp and device.type == "cuda"):
                outputs = net(images)
            outputs = [[o.float() for o in stack] for stack in outputs]
            loss, last_scales = multiscale_loss(outputs, targets, masks, focal=focal)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            sums += loss.item()
            n += 1
            step += 1
            if step % 20 == 0:
                print(f"epoch {epoch} step {step} loss {loss.item():.4f} ({time.time() - t0:.0f}s)", flush=True)
            if (args.max_steps and step >= args.max_steps) or (budget_s and time.time() - t_start > budget_s):
                break
        rec = {
            "epoch": epoch, "loss": sums / max(n, 1), "focal": focal, "last_scales": last_scales,
            "elapsed_s": time.time() - t0, "lr": sched.get_last_lr()[0],
        }
        history.append(rec)
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(json.dumps(rec), flush=True)
        save_checkpoint(out / "last.pt", net, opt, epoch, cfg, tcfg, history)
        if (args.max_steps and step >= args.max_steps) or (budget_s and time.time() - t_start > budget_s):
            break
    log.close()
    return {"history": history, **info}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        train(args)
    except (DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
