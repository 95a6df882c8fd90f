"""User-level observations for the shared networks (RSD4 spec eq. (9), our feature choice).

o_i(t) = [u_i, q_i(t) / obs_scale (zero-padded to tau_max + 1), c_i(t) / N_c (if observed), g(t)] with
u_i = (beta_i / 5, d_i / 2, tau_i / tau_max) and g(t) = (lambda / lambda_max, mean backlog over users /
(tau_max + 1)). The action of user i has tau_max + 1 entries; entries beyond tau_i are ignored.
"""

from __future__ import annotations

import numpy as np

from simulators.scheduling import SchedulingEnv


class UserFeatures:
    """Builds (N, obs_dim) per-user observations from a :class:`SchedulingEnv`."""

    def __init__(self, env: SchedulingEnv, obs_scale: float) -> None:
        inst = env.instance
        self.env, self.scale = env, float(obs_scale)
        self.K = inst.tau_max + 1
        self.u = np.stack([inst.beta / 5.0, inst.dist / 2.0, inst.tau / max(inst.tau_max, 1)], 1)
        self.partial = env.partial
        self.obs_dim = 3 + self.K + (0 if self.partial else 1) + 2
        self.act_dim = self.K
        self.lam_index = self.obs_dim - 2  # g(t)[0] = lambda / lambda_max (rewritten at sampling time)
        self.lam_max = inst.lam_max
        self.n_channels = inst.n_channels

    def __call__(self, lam: float) -> np.ndarray:
        env = self.env
        q = env.queues.astype(np.float32)
        parts = [self.u, q / self.scale]
        if not self.partial:
            parts.append((env.shown_channel / self.n_channels)[:, None])
        backlog = q.sum() / env.n_users / self.K
        g = np.broadcast_to(np.array([lam / self.lam_max, backlog]), (env.n_users, 2))
        parts.append(g)
        return np.concatenate(parts, 1).astype(np.float32)

    def to_env_action(self, user_actions: np.ndarray) -> np.ndarray:
        """(N, tau_max + 1) per-user actions in [-1, 1] -> the env's flat action (global buffer)."""
        return self.env.from_padded(np.asarray(user_actions, dtype=np.float32))
