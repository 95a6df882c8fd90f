"""Run-level FLOPs of actor-critic training, spec §1.10 eqs. (15)-(18), from per-network forward FLOPs.

Per training iteration with batch B, f the per-sample forward FLOPs of a network (2 per active weight,
spec eq. 14; targets share their online network's masks, so f' = f):
  (16) TD3:  B [ f_pi' + f_Q'twin + 3 f_Qtwin ] + on actor-update iterations B [ 3 f_pi + 2 f_Q1 ]
       (the spec averages the last term over the policy delay d; we charge it when it happens);
  (17) SAC:  B [ n_pi f_pi + f_Q'twin + 3 f_Qtwin + 3 f_pi + 2 f_Qtwin ],  n_pi = actor forwards per target
       (1 + the m - 1 intermediate states of eq. 21, i.e. n);
  RigL (eq. 15): on a group's topology-update iteration its 3 f_S becomes 2 f_S + f_D (dense gradient);
  acting: one actor forward per environment step once the actor acts (not during uniform warm-up).
The dense reference is the same count with every f dense. f_Q1 = f_Qtwin / 2 (both Q-nets have the same
shapes and, under a joint ER budget, the same per-layer nnz). Evaluation and buffer checks are excluded.
  (18) train ratio = sum F_sparse / sum F_dense over the run; inference ratio = f_pi,S / f_pi,D.
"""

from __future__ import annotations

from typing import Any


class ActorCriticFlops:
    """Accumulates sparse and dense training FLOPs of a TD3 or SAC run."""

    def __init__(self, algo: str, batch_size: int) -> None:
        if algo not in ("td3", "sac"):
            raise ValueError(f"algo must be td3 or sac, got {algo!r}")
        self.algo, self.B = algo, int(batch_size)
        self.sparse_total = 0.0
        self.dense_total = 0.0

    def act(self, f_pi: float, f_pi_dense: float) -> None:
        """One actor forward to act in the environment."""
        self.sparse_total += f_pi
        self.dense_total += f_pi_dense

    def iteration(self, f: dict[str, float], fd: dict[str, float], n: int, actor_update: bool,
                  actor_topology: bool = False, critic_topology: bool = False) -> None:
        """One training iteration; ``f``/``fd`` map "actor"/"critic" (twin) to sparse/dense forward FLOPs."""
        self.sparse_total += self._cost(f, fd, n, actor_update, actor_topology, critic_topology)
        self.dense_total += self._cost(fd, fd, n, actor_update, False, False)

    def _cost(self, f: dict[str, float], fd: dict[str, float], n: int, actor_update: bool,
              actor_topology: bool, critic_topology: bool) -> float:
        fa, fq = f["actor"], f["critic"]
        critic_train = 2 * fq + fd["critic"] if critic_topology else 3 * fq
        actor_train = 2 * fa + fd["actor"] if actor_topology else 3 * fa
        if self.algo == "td3":
            c = fa + fq + critic_train
            if actor_update:
                c += actor_train + 2 * (fq / 2)
        else:
            c = n * fa + fq + critic_train + actor_train + 2 * fq
        return self.B * c

    @property
    def train_ratio(self) -> float:
        return self.sparse_total / self.dense_total if self.dense_total > 0 else 1.0

    def state_dict(self) -> dict[str, Any]:
        return {"sparse_total": self.sparse_total, "dense_total": self.dense_total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sparse_total = float(state["sparse_total"])
        self.dense_total = float(state["dense_total"])
