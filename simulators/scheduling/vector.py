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

from .core import BatchCore, CoreViews, build_instance
from .instances import SchedulingInstance
from .kernels import step_slot

__all__ = ["SchedulingBatch", "check_actions", "step_episodes"]


class SchedulingBatch(CoreViews):
    """M lock-step episodes. ``step(actions (M, B))`` -> ``(obs (M, D), rewards (M,), truncated, info)``.

    ``info`` holds arrays of shape (M, N): ``S``, ``E``, ``D``, ``reward``, and ``channel``. The
    properties ``lam``, ``t``, ``queues``, ``channel``, ``shown_channel`` and ``arrivals`` are those of
    :class:`SchedulingEnv` with a leading episode axis.
    """

    def __init__(self, instance: SchedulingInstance | None = None, num_envs: int = 16, *,
                 partial: bool = False, obs_noise: float = 0.0, lam: float = 1.0, split: str = "train",
                 instance_seed: int = 0, **instance_kwargs: Any) -> None:
        instance = build_instance(instance, instance_seed, split, instance_kwargs)
        self._core = BatchCore(instance, num_envs, partial, obs_noise, lam)
        self._ep = slice(None)
        self.instance, self.split = instance, split
        self.num_envs = self._core.M
        self.buffer_size, self.horizon = self._core.buffer_size, self._core.horizon
        self.observation_space = self._core.observation_space()
        self._rng = np.random.default_rng()
        self._needs_reset = True

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
        """Advance all M episodes by one slot (:func:`step_episodes`); ``truncated`` at t = H."""
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (and after the episodes end)")
        obs, rewards, info = step_episodes(self._core, actions)
        truncated = self._core.t >= self.horizon
        self._needs_reset = truncated
        return obs, rewards, truncated, info


def check_actions(actions: object, num_envs: int, buffer_size: int) -> np.ndarray:
    """``actions`` as a float32 or float64 array of shape (M, B), as :func:`.kernels.step_slot` takes it
    (other dtypes are converted to float64); ValueError naming ``actions`` if the shape is not (M, B)."""
    a = np.asarray(actions)
    if a.dtype != np.float32:
        a = a.astype(np.float64, copy=False)
    if a.shape != (num_envs, buffer_size):
        raise ValueError(f"actions must have shape ({num_envs}, {buffer_size}) (num_envs, sum_i (tau_i + 1)), "
                         f"got {a.shape}")
    return a


def step_episodes(core: BatchCore, actions: object) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Slot t of the M lock-step episodes of ``core`` (RSD4 spec eqs. (1)-(3), (5), (8)), one call of
    :func:`.kernels.step_slot`; shared by :class:`SchedulingBatch` and
    :class:`~.vector_env.SchedulingVectorEnv`. The caller checks that the episodes have not ended.

    Returns the next observations (M, D) float32, the rewards (M,) (sum_i r_{i,t}) and the per-user
    ``info`` arrays (M, N): ``S``, ``E``, ``D``, ``reward`` and the true ``channel`` c(t) of the slot (a
    view of this episode's channel path, which a later reset does not overwrite). Advances ``core.t``.
    ValueError if ``actions`` is not (M, B) or contains NaN (then nothing changes).
    """
    M, n = core.M, core.n_users
    a = check_actions(actions, M, core.buffer_size)
    t = core.t
    obs = np.empty((M, core.obs_dim), dtype=np.float32)
    info = np.empty((M, 4, n))
    r = step_slot(t, core.q, core.rng_state, core.exo, core.tau, core.fpar,
                  np.ascontiguousarray(a).reshape(-1), info.reshape(4 * M, n), obs.reshape(-1))
    if r != r:
        raise ValueError("actions contain NaN")
    core.t = t + 1
    info_d = {"S": info[:, 0], "E": info[:, 1], "D": info[:, 2], "reward": info[:, 3],
              "channel": core.exo[:, t, 1]}
    return obs, info[:, 3].sum(axis=1), info_d
