"""Seeding and RNG-state capture, so that a resumed run equals an uninterrupted one."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> np.random.Generator:
    """Seed Python, NumPy's legacy global RNG and torch (CPU and CUDA); return a fresh numpy Generator.

    With ``deterministic`` torch is asked for deterministic kernels where it has them
    (``warn_only`` so that ops without a deterministic version still run).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - third-party code may use the legacy global RNG
    torch.manual_seed(seed)
    if torch.cuda.is_available():  # pragma: no cover - no GPU here
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def get_rng_state(np_rng: np.random.Generator | None = None) -> dict[str, Any]:
    """Every RNG state a training loop touches, as a picklable dict (for checkpoints)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy_global": np.random.get_state(),  # noqa: NPY002
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():  # pragma: no cover
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    if np_rng is not None:
        state["numpy_generator"] = np_rng.bit_generator.state
    return state


def set_rng_state(state: dict[str, Any], np_rng: np.random.Generator | None = None) -> None:
    """Restore what :func:`get_rng_state` captured (and the given Generator's state, if saved)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy_global"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "torch_cuda" in state and torch.cuda.is_available():  # pragma: no cover
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    if np_rng is not None and "numpy_generator" in state:
        np_rng.bit_generator.state = state["numpy_generator"]
