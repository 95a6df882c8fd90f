"""RLx2's dynamic-capacity replay buffer (spec §2.3).

A FIFO transition buffer (``deeprl.common.replay.ReplayBuffer``, capacity ``max_size``) that also stores
the behaviour mean action a^mu of every transition. Every ``check_interval`` environment steps the
policy mismatch D between the current actor and the behaviour of the *oldest* K transitions is measured:

    (24) code:   D = 1/2 * mean_{i, j} ((pi(s_i)_j - a^mu_{i,j}) / a_scale_j)^2      (default)
    (25) paper:  D = (1/K) * sum_i || pi(s_i) - a^mu_i ||_2

and if D > threshold and size > min_size the oldest data are deleted:
``shrink_mode="code"`` removes the oldest 10 % once per check (official code); ``"paper"`` removes
1 % chunks, re-measuring D on the new oldest K, until D <= threshold or size = min_size; ``"off"`` never
shrinks (a plain FIFO of ``max_size``, RLx2 without the dynamic buffer). The size never goes below
``min_size`` through shrinking, and the buffer regrows by appending up to ``max_size``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from deeprl.common.replay import ReplayBuffer, transition_fields

PolicyFn = Callable[[np.ndarray], np.ndarray]


class DynamicReplayBuffer:
    """Transition buffer with RLx2's policy-mismatch-driven capacity (spec §2.3)."""

    SHRINK_MODES = ("code", "paper", "off")
    DISTANCES = ("mse", "l2")

    def __init__(self, obs_dim: int, act_dim: int, action_scale: np.ndarray, max_size: int, min_size: int,
                 shrink_mode: str = "code", distance: str = "mse", threshold: float = 0.2,
                 check_interval: int = 10_000, n_check: int = 2048, shrink_fraction: float = 0.1,
                 chunk_fraction: float = 0.01) -> None:
        if shrink_mode not in self.SHRINK_MODES:
            raise ValueError(f"shrink_mode must be one of {', '.join(self.SHRINK_MODES)}, got {shrink_mode!r}")
        if distance not in self.DISTANCES:
            raise ValueError(f"distance must be one of {', '.join(self.DISTANCES)}, got {distance!r}")
        if max_size <= 0:
            raise ValueError(f"buffer max_size must be positive, got {max_size}")
        if not 0 < min_size <= max_size:
            raise ValueError(f"buffer min_size must be in (0, max_size={max_size}], got {min_size}")
        if threshold < 0:
            raise ValueError(f"buffer threshold must be >= 0, got {threshold}")
        if check_interval <= 0 or n_check <= 0:
            raise ValueError("check_interval and n_check must be positive")
        if not (0 < shrink_fraction < 1 and 0 < chunk_fraction < 1):
            raise ValueError("shrink_fraction and chunk_fraction must be in (0, 1)")
        self.shrink_mode, self.distance, self.threshold = shrink_mode, distance, float(threshold)
        self.min_size, self.max_size = int(min_size), int(max_size)
        self.check_interval, self.n_check = int(check_interval), int(n_check)
        self.shrink_fraction, self.chunk_fraction = float(shrink_fraction), float(chunk_fraction)
        self.action_scale = np.asarray(action_scale, dtype=np.float64).reshape(-1)
        fields = transition_fields(obs_dim, act_dim, {"mean_action": ((act_dim,), np.float32)})
        self.data = ReplayBuffer(self.max_size, fields)
        self.removed_total = 0

    def __len__(self) -> int:
        return len(self.data)

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            terminated: bool, truncated: bool, mean_action: np.ndarray) -> None:
        """Append one transition (FIFO beyond ``max_size``)."""
        self.data.add(obs=obs, action=action, reward=reward, next_obs=next_obs, terminated=terminated,
                      truncated=truncated, mean_action=mean_action)

    def mismatch(self, policy: PolicyFn, idx: np.ndarray | None = None) -> float:
        """Policy mismatch D on the given logical indices (default: the oldest ``n_check``), eq. (24)/(25)."""
        if len(self.data) == 0:
            raise ValueError("cannot measure policy mismatch on an empty buffer")
        idx = self.data.oldest(self.n_check) if idx is None else idx
        f = self.data.get(idx, ["obs", "mean_action"])
        diff = (np.asarray(policy(f["obs"]), dtype=np.float64) - f["mean_action"]) / self.action_scale
        if self.distance == "mse":
            return float(0.5 * np.mean(diff**2))
        return float(np.mean(np.linalg.norm(diff * self.action_scale, axis=1)))

    def check(self, policy: PolicyFn) -> dict[str, float]:
        """One capacity check: measure D on the oldest K and shrink per ``shrink_mode``; return a log dict."""
        d = self.mismatch(policy)
        removed = 0
        if self.shrink_mode == "code":
            if d > self.threshold and len(self.data) > self.min_size:
                k = min(math.ceil(self.shrink_fraction * len(self.data)), len(self.data) - self.min_size)
                removed = self.data.pop_oldest(k)
        elif self.shrink_mode == "paper":
            d_cur = d
            while d_cur > self.threshold and len(self.data) > self.min_size:
                k = min(max(1, math.ceil(self.chunk_fraction * len(self.data))), len(self.data) - self.min_size)
                removed += self.data.pop_oldest(k)
                d_cur = self.mismatch(policy)
        self.removed_total += removed
        return {"buffer/distance": d, "buffer/size": float(len(self.data)), "buffer/removed": float(removed)}

    def state_dict(self) -> dict[str, Any]:
        return {"data": self.data.state_dict(), "removed_total": self.removed_total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.data.load_state_dict(state["data"])
        self.removed_total = int(state["removed_total"])
