"""Shared fixtures: a tiny COCO-format keypoint dataset drawn here (stick figures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imhn.stickfig import make_coco  # noqa: F401  (tests import it from here)


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory) -> Path:
    return make_coco(tmp_path_factory.mktemp("coco"), count=6, size=64, seed=1)
