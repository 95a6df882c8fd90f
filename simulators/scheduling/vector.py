"""Lock-step batch of scheduling episodes: M episodes x N users advanced by one Numba call per slot.

For training and evaluation loops that act on many episodes at once (RSD4 acts on all users of all
episodes as one batch). Same dynamics and kernel as :class:`SchedulingEnv` (RSD4 spec §1); all M
episodes share the instance and the horizon, start together at ``reset`` and truncate together at
t = H, after which ``reset`` must be called again. One generator seeded at ``reset(seed)`` draws all
M episodes, so episode m does not reproduce ``SchedulingEnv.reset(seed=m)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .env import BatchCore, check_instance_kwargs
from .instances import SchedulingInstance, make_instance

__all__ = ["SchedulingBatch"]


class SchedulingBatch:
    """M lock-step episodes. ``step(actions (M, B))`` -> ``(obs (M, D), rewards (M,), truncated, info)``.

    ``info`` holds arrays of shape (M, N): ``S``, ``E``, ``D``, ``reward``, and ``channel``.
    """

    def __init__(self, instance: SchedulingInstance | None = None, num_envs: int = 16, *,
                 partial: bool = False, obs_noise: float = 0.0, lam: float = 1.0, split: str = "train",
                 instance_seed: int = 0, **instance_kwargs: Any) -> None:
        if instance is None:
            check_instance_kwargs(instance_kwargs)
            instance = make_instance(instance_seed, **instance_kwargs)
        elif instance_kwargs:
            raise ValueError(f"give either instance or instance parameters, not both: {sorted(instance_kwargs)}")
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        self._core = BatchCore(instance, num_envs, partial, obs_noise, lam)
        self.instance, self.split = instance, split
        self.num_envs = self._core.M
        self.buffer_size, self.horizon = self._core.buffer_size, self._core.horizon
        self.observation_space = self._core.observation_space()
        self._rng = np.random.default_rng()
        self._needs_reset = True

    @property
    def lam(self) -> float:
        return self._core.lam

    @lam.setter
    def lam(self, value: float) -> None:
        self._core.lam = value

    @property
    def t(self) -> int:
        return self._core.t

    @property
    def queues(self) -> np.ndarray:
        """Counters, shape (M, N, tau_max + 1) (a live view)."""
        return self._core.q

    @property
    def channel(self) -> np.ndarray:
        """True channel states of the current slot, shape (M, N)."""
        return self._core.chans[:, :, min(self._core.t, self.horizon)]

    def reset(self, seed: int | None = None, split: str | None = None) -> np.ndarray:
        """Start M new episodes; returns the observations (M, D)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        split = self.split if split is None else split
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        self._core.reset(self._rng, split)
        self._needs_reset = False
        return self._core.obs.copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (and after the episodes end)")
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != (self.num_envs, self.buffer_size):
            raise ValueError(f"actions must have shape ({self.num_envs}, {self.buffer_size}), got {a.shape}")
        core = self._core
        chan = core.chans[:, :, core.t]
        core.step(a)
        truncated = core.t >= self.horizon
        self._needs_reset = truncated
        out = core.out.copy()
        info = {"S": out[:, 0], "E": out[:, 1], "D": out[:, 2], "reward": out[:, 3], "channel": chan.copy()}
        return core.obs.copy(), out[:, 3].sum(axis=1), truncated, info
