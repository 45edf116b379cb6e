import json

import numpy as np
import pytest

from imhn import evaluate, train
from imhn.data import AugmentConfig, CocoKeypoints
from imhn.evaluate import DecodeConfig, decode, keypoint_ap, to_coco17
from imhn.targets import TargetConfig


def test_training_smoke_checkpoint_resume_and_export(tiny_coco, tmp_path):
    out = tmp_path / "run"
    args = ["--annotations", str(tiny_coco), "--out", str(out), "--preset", "tiny",
            "--epochs", "2", "--batch-size", "3", "--workers", "0", "--l2-epochs", "1", "--lr", "1e-3"]
    res = train.train(train.parse_args(args))
    hist = res["history"]
    assert [h["focal"] for h in hist] == [False, True]
    assert all(np.isfinite(h["loss"]) for h in hist)
    assert (out / "last.pt").exists() and (out / "log.jsonl").exists()
    # Resume runs the remaining epoch only.
    res2 = train.train(train.parse_args(args[:-6] + ["--epochs", "3", "--workers", "0", "--lr", "1e-3", "--resume", str(out / "last.pt")]))
    assert [h["epoch"] for h in res2["history"]] == [0, 1, 2]
    from imhn.export import main as export_main
    assert export_main(["--checkpoint", str(out / "last.pt"), "--out", str(tmp_path / "m.onnx")]) == 0
    # The eval CLI runs end to end on the exported model.
    assert evaluate.main(["--model", str(tmp_path / "m.onnx"), "--annotations", str(tiny_coco),
                          "--results", str(tmp_path / "dt.json")]) == 0
    assert isinstance(json.loads((tmp_path / "dt.json").read_text()), list)
    from imhn.quantize import main as quantize_main, op_types
    assert quantize_main(["--fp32", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "q.onnx"),
                          "--format", "qlinearconv", "--annotations", str(tiny_coco),
                          "--count", "4", "--size", "64"]) == 0
    assert op_types(tmp_path / "q.onnx").get("QLinearConv", 0) > 0


def test_train_cli_reports_bad_data(tmp_path, capsys):
    bad = tmp_path / "a.json"
    bad.write_text("[]")
    assert train.main(["--annotations", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "expected a COCO object" in capsys.readouterr().err


def test_perfect_maps_decode_to_ap_one(tmp_path):
    """Targets are what a perfect network outputs: decoding them must recover the people."""
    from conftest import make_coco

    ann = make_coco(tmp_path, count=4, size=256, seed=7, people=(1, 3), separate=True)
    coco = json.loads(ann.read_text())
    ds = CocoKeypoints(ann, input_size=(256, 256), target_cfg=TargetConfig.for_input(256),
                       augment=AugmentConfig.none())
    results = []
    for i in range(len(ds)):
        _, targets, _, meta = ds.sample(i)
        for p in decode(targets[0], 256, DecodeConfig()):
            k = to_coco17(p["kps18"])
            results.append({"image_id": meta["image_id"], "category_id": 1,
                            "keypoints": k.reshape(-1).tolist(), "score": p["score"]})
    n_gt = len(coco["annotations"])
    assert len(results) == n_gt
    ap = keypoint_ap(coco, results)
    assert ap["AP"] > 0.95, ap


def test_ap_counts_misses_and_false_positives():
    gt = np.zeros((17, 3))
    gt[:, 0] = np.arange(17) * 5 + 10
    gt[:, 1] = 50
    gt[:, 2] = 2
    coco = {"images": [{"id": 1}], "annotations": [
        {"image_id": 1, "keypoints": gt.reshape(-1).tolist(), "num_keypoints": 17, "area": 5000.0,
         "bbox": [10, 40, 80, 20], "iscrowd": 0}]}
    det = {"image_id": 1, "category_id": 1, "keypoints": gt.reshape(-1).tolist(), "score": 0.9}
    assert keypoint_ap(coco, [det])["AP"] == pytest.approx(1.0)
    assert keypoint_ap(coco, [])["AP"] == 0.0
    far = dict(det, keypoints=(gt + [200, 0, 0]).reshape(-1).tolist(), score=0.95)
    # A higher-scored false positive halves precision at every recall.
    assert keypoint_ap(coco, [det, far])["AP"] == pytest.approx(0.5, abs=0.01)
