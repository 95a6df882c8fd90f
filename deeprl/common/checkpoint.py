"""Atomic checkpoints: ``torch.save`` to a temp file then ``os.replace``, so a crash never leaves half a file.

A checkpoint is one dict (models, optimizers, sparse-trainer state with masks, replay buffer, RNG states,
counters); each method decides its keys. Files are ``<run_dir>/checkpoints/step_<N>.pt``; only the
newest ``keep`` are kept.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

_PAT = re.compile(r"step_(\d+)\.pt$")


def save_checkpoint(run_dir: str | Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` as ``run_dir/checkpoints/step_<step>.pt`` atomically; prune older ones to ``keep``."""
    ck_dir = Path(run_dir) / "checkpoints"
    ck_dir.mkdir(parents=True, exist_ok=True)
    path = ck_dir / f"step_{int(step)}.pt"
    fd, tmp = tempfile.mkstemp(dir=ck_dir, suffix=".tmp")
    os.close(fd)
    torch.save(state, tmp)
    os.replace(tmp, path)
    olds = sorted(_list(ck_dir), key=lambda p: _step(p))[:-keep] if keep > 0 else []
    for p in olds:
        p.unlink(missing_ok=True)
    return path


def _list(ck_dir: Path) -> list[Path]:
    return [p for p in ck_dir.glob("step_*.pt") if _PAT.search(p.name)]


def _step(p: Path) -> int:
    m = _PAT.search(p.name)
    assert m is not None
    return int(m.group(1))


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest ``step_<N>.pt`` under ``run_dir/checkpoints`` (or ``None``)."""
    ck_dir = Path(run_dir) / "checkpoints"
    if not ck_dir.is_dir():
        return None
    files = _list(ck_dir)
    return max(files, key=_step) if files else None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (full pickle: our own files only)."""
    p = Path(path)
    if p.is_dir():
        found = latest_checkpoint(p)
        if found is None:
            raise FileNotFoundError(f"no checkpoint under {p}/checkpoints")
        p = found
    if not p.exists():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    return torch.load(p, map_location=map_location, weights_only=False)
