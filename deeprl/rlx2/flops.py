"""Run-level training FLOPs of RLx2's TD3/SAC (spec §1.10, eqs. (15)-(18)), from the engine's formulas.

Per training iteration the engine's :func:`deeprl.sparse.td3_iteration_flops` (eq. 16, the actor term
averaged over the policy delay) or :func:`deeprl.sparse.sac_iteration_flops` (eq. 17, with
n_pi = n actor forwards per target: s_{t+m} and the m - 1 intermediate states of eq. 21) is charged with the
networks' current forward FLOPs f (2 per active weight; targets share the online masks, so f' = f), and
f_Q1 = f_Qtwin / 2 (both Q-nets have the same shapes and, under the joint ER budget, the same per-layer nnz).
RigL (eq. 15): on a group's update iteration its training cost 3 f_S becomes 2 f_S + f_D, so B (f_D - f_S)
is added for that group. Acting adds one actor forward per environment step once the actor acts (not
during uniform warm-up). Evaluation and buffer checks are not training and are excluded.
The dense reference is the same count with every f dense. (18): ratio = sum F_sparse / sum F_dense.
"""

from __future__ import annotations

from typing import Any

from deeprl.sparse import sac_iteration_flops, td3_iteration_flops


class ActorCriticFlops:
    """Accumulates sparse and dense training FLOPs of a TD3 or SAC run (eq. 18)."""

    def __init__(self, algo: str, batch_size: int, policy_delay: int = 2) -> None:
        if algo not in ("td3", "sac"):
            raise ValueError(f"algo must be td3 or sac, got {algo!r}")
        self.algo, self.B, self.delay = algo, int(batch_size), int(policy_delay)
        self.sparse_total = 0.0
        self.dense_total = 0.0

    def per_iteration(self, f: dict[str, float], n: int = 1) -> float:
        """Eq. (16) / (17) for forward counts ``f = {"actor": f_pi, "critic": f_Qtwin}``."""
        if self.algo == "td3":
            return td3_iteration_flops(f["actor"], f["critic"], f["critic"] / 2, self.B, self.delay)
        return sac_iteration_flops(f["actor"], f["critic"], self.B, n_actor_target=n)

    def act(self, f_pi: float, f_pi_dense: float) -> None:
        """One actor forward to act in the environment."""
        self.sparse_total += f_pi
        self.dense_total += f_pi_dense

    def iteration(self, f: dict[str, float], fd: dict[str, float], n: int = 1,
                  topology: dict[str, bool] | None = None) -> None:
        """One training iteration; ``topology[name]`` marks a RigL update (dense gradient) of that group."""
        extra = sum(self.B * (fd[k] - f[k]) for k, on in (topology or {}).items() if on)
        self.sparse_total += self.per_iteration(f, n) + extra
        self.dense_total += self.per_iteration(fd, n)

    @property
    def train_ratio(self) -> float:
        return self.sparse_total / self.dense_total if self.dense_total > 0 else 1.0

    def state_dict(self) -> dict[str, Any]:
        return {"sparse_total": self.sparse_total, "dense_total": self.dense_total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sparse_total = float(state["sparse_total"])
        self.dense_total = float(state["dense_total"])
