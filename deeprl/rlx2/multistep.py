"""Multi-step TD targets (spec §2.2, eqs. 20-21) and the schedules that choose n.

For a sampled transition t the target uses m = min(n, steps to the first terminal or time-limit
truncation, steps still stored) transitions:

    y_t = sum_{k<m} gamma^k r_{t+k} + gamma^m (1 - terminated_{t+m-1}) * V'(s_{t+m}),

where s_{t+m} is the ``next_obs`` of transition t+m-1. A true terminal stops bootstrapping; a
time-limit truncation bootstraps from the state where it occurred (gymnasium's ``final observation`` is
what the buffer stores as ``next_obs``). The sum is uncorrected (no importance weights), as in RLx2.
The newest transitions of a still-running episode simply get a shorter m.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deeprl.common.replay import ReplayBuffer


@dataclass
class NStepBatch:
    """What the critic loss needs for ``B`` sampled transitions (NumPy, float32)."""

    obs: np.ndarray  # (B, obs) s_t
    action: np.ndarray  # (B, act) a_t
    reward_sum: np.ndarray  # (B,) sum_{k<m} gamma^k r_{t+k}
    bootstrap: np.ndarray  # (B,) gamma^m * (1 - terminated_{t+m-1})
    boot_obs: np.ndarray  # (B, obs) s_{t+m}
    m: np.ndarray  # (B,) steps used (1..n)
    inter_obs: np.ndarray  # (B, n-1, obs) s_{t+k}, k = 1..n-1 (SAC's entropy terms, eq. 21)
    inter_weight: np.ndarray  # (B, n-1) gamma^k if k < m else 0


def nstep_batch(buf: ReplayBuffer, idx: np.ndarray, n: int, gamma: float, with_inter: bool = False) -> NStepBatch:
    """Assemble the n-step quantities of spec eqs. (20)-(21) for logical indices ``idx`` of ``buf``.

    ``buf`` must hold one environment's transitions in time order with fields ``obs, action, reward,
    next_obs, terminated, truncated``. ``with_inter`` also gathers the intermediate states for SAC.
    """
    if n < 1:
        raise ValueError(f"n (the multi-step length) must be >= 1, got {n}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    idx = np.asarray(idx, dtype=np.int64)
    size = len(buf)
    ks = np.arange(n, dtype=np.int64)
    cand = idx[:, None] + ks[None, :]  # (B, n)
    avail = cand < size
    safe = np.minimum(cand, size - 1)
    f = buf.get(safe.reshape(-1), ["reward", "terminated", "truncated"])
    rew = f["reward"].reshape(cand.shape).astype(np.float64)
    end = (f["terminated"] | f["truncated"]).reshape(cand.shape)
    # valid[k]: step k is used. Step 0 always; step k>0 iff stored and no episode end at steps < k.
    ended_before = np.zeros_like(end)
    ended_before[:, 1:] = np.cumsum(end[:, :-1], axis=1) > 0
    valid = avail & ~ended_before
    m = valid.sum(axis=1)  # valid is a prefix, so m counts it
    disc = gamma ** ks.astype(np.float64)
    reward_sum = (rew * disc[None, :] * valid).sum(axis=1)
    last = idx + m - 1
    tail = buf.get(last, ["next_obs", "terminated"])
    bootstrap = (gamma ** m.astype(np.float64)) * (1.0 - tail["terminated"].astype(np.float64))
    head = buf.get(idx, ["obs", "action"])
    if with_inter and n > 1:
        inter = buf.get(safe[:, 1:].reshape(-1), ["obs"])["obs"].reshape(len(idx), n - 1, -1)
        inter_weight = (disc[None, 1:] * valid[:, 1:]).astype(np.float32)
    else:
        inter = np.zeros((len(idx), 0, head["obs"].shape[-1]), dtype=np.float32)
        inter_weight = np.zeros((len(idx), 0), dtype=np.float32)
    return NStepBatch(
        obs=head["obs"], action=head["action"], reward_sum=reward_sum.astype(np.float32),
        bootstrap=bootstrap.astype(np.float32), boot_obs=tail["next_obs"], m=m,
        inter_obs=inter, inter_weight=inter_weight,
    )


class NStepSchedule:
    """Chooses the multi-step length n for each training iteration (spec §2.2, "Schedules").

    Modes:
      - ``"off"``: n = 1 always (1-step TD3/SAC);
      - ``"fixed"``: n = n_max from the start;
      - ``"delayed"`` (official RLx2 code): n = 1 while iteration < t_switch, then n_max for good;
      - ``"adaptive"`` (our concrete rule for the paper's intent, [C]): switch for good once the policy
        change D_pi of eq. (23), measured at the buffer checks, is <= ``delta_switch`` at ``patience``
        consecutive checks; forced at ``2 * t_switch``.
    """

    MODES = ("off", "fixed", "delayed", "adaptive")

    def __init__(self, mode: str, n_max: int, t_switch: int, delta_switch: float = 0.01, patience: int = 3):
        if mode not in self.MODES:
            raise ValueError(f"multistep mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        if n_max < 1:
            raise ValueError(f"n-step must be >= 1, got {n_max}")
        self.mode, self.n_max, self.t_switch = mode, int(n_max), int(t_switch)
        self.delta_switch, self.patience = float(delta_switch), int(patience)
        self.calm_checks = 0
        self.switched_at: int | None = None

    def n(self, iteration: int) -> int:
        """n for training iteration ``iteration`` (0-based)."""
        if self.mode == "off":
            return 1
        if self.mode == "fixed":
            return self.n_max
        if self.mode == "delayed":
            return self.n_max if iteration >= self.t_switch else 1
        if self.switched_at is None and iteration >= 2 * self.t_switch:
            self.switched_at = iteration
        return self.n_max if self.switched_at is not None else 1

    def observe_policy_change(self, iteration: int, d_pi: float) -> None:
        """Feed D_pi of eq. (23) from a buffer check (only the adaptive mode uses it)."""
        if self.mode != "adaptive" or self.switched_at is not None:
            return
        self.calm_checks = self.calm_checks + 1 if d_pi <= self.delta_switch else 0
        if self.calm_checks >= self.patience:
            self.switched_at = iteration

    def state_dict(self) -> dict[str, Any]:
        return {"calm_checks": self.calm_checks, "switched_at": self.switched_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.calm_checks = int(state["calm_checks"])
        self.switched_at = state["switched_at"]
