"""User-level observations for the shared networks (RSD4 spec eq. (9), our feature choice).

o_i(t) = [u_i, q_i(t) / obs_scale (zero-padded to tau_max + 1), c_i(t) / N_c (if observed), g(t)] with
u_i = (beta_i / 5, d_i / 2, tau_i / tau_max) and g(t) = (lambda / lambda_max, mean backlog over users /
(tau_max + 1)). The action of user i has tau_max + 1 entries; entries beyond tau_i are ignored.
``user_features="index"`` gives the code's layout instead: u_i = the raw index i and no g(t).
``outcomes=True`` inserts, before g(t), the last slot's revealed successes S_{i,k} and failures
q_{i,k}(t-1) - S_{i,k} per counter (each zero-padded to tau_max + 1, divided by obs_scale; zero at t = 0);
they are computed from the counters alone (:func:`~simulators.scheduling.heuristics.observed_successes`).
"""

from __future__ import annotations

import numpy as np

from simulators.scheduling import SchedulingEnv
from simulators.scheduling.heuristics import observed_successes


class UserFeatures:
    """Builds (N, obs_dim) per-user observations from a :class:`SchedulingEnv`."""

    def __init__(self, env: SchedulingEnv, obs_scale: float, user_features: str = "ours", outcomes: bool = False
                 ) -> None:
        if user_features not in ("ours", "index"):
            raise ValueError(f"user_features must be 'ours' or 'index', got {user_features!r}")
        inst = env.instance
        self.env, self.scale = env, float(obs_scale)
        self.K = inst.tau_max + 1
        self.index = user_features == "index"
        if self.index:
            self.u = np.arange(env.n_users, dtype=np.float64)[:, None]
        else:
            self.u = np.stack([inst.beta / 5.0, inst.dist / 2.0, inst.tau / max(inst.tau_max, 1)], 1)
        self.partial = env.partial
        self.outcomes = bool(outcomes)
        self._q_prev: np.ndarray | None = None  # the counters at the previous call of this episode
        self.obs_dim = (self.u.shape[1] + self.K + (0 if self.partial else 1) + (2 * self.K if self.outcomes else 0)
                        + (0 if self.index else 2))
        self.act_dim = self.K
        # g(t)[0] = lambda / lambda_max, rewritten with the current lambda at sampling time (None: no g)
        self.lam_index = None if self.index else self.obs_dim - 2
        self.lam_max = inst.lam_max
        self.n_channels = inst.n_channels

    def __call__(self, lam: float) -> np.ndarray:
        env = self.env
        q = env.queues.astype(np.float32)
        parts = [self.u, q / self.scale]
        if not self.partial:
            parts.append((env.shown_channel / self.n_channels)[:, None])
        if self.outcomes:
            parts += list(self._outcomes(q))
        if not self.index:
            backlog = q.sum() / env.n_users / self.K
            parts.append(np.broadcast_to(np.array([lam / self.lam_max, backlog]), (env.n_users, 2)))
        return np.concatenate(parts, 1).astype(np.float32)

    def _outcomes(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(successes, failures) of the last slot per counter / obs_scale; zeros at the first slot."""
        if self.env.t == 0 or self._q_prev is None:
            succ = fail = np.zeros_like(q)
        else:
            S, known = observed_successes(self._q_prev, q, self.env.instance.tau)
            succ, fail = S, np.where(known, self._q_prev - S, 0.0)
        self._q_prev = q.copy()
        return (succ / self.scale).astype(np.float32), (fail / self.scale).astype(np.float32)

    def to_env_action(self, user_actions: np.ndarray) -> np.ndarray:
        """(N, tau_max + 1) per-user actions in [-1, 1] -> the env's flat action (global buffer)."""
        return self.env.from_padded(np.asarray(user_actions, dtype=np.float32))
