"""Hybrid TD(lambda) targets, spec ``sparse.md`` §3.3.

eq. (35)  G_t = r_t + gamma (1 - term_t) [ (1 - lambda) z_{t+1} + lambda G_{t+1} ],
          with G_L := z_L at the end of an episode of length L, so the last step bootstraps from z_L
          (which the caller has set to whatever the final state is worth; terminal steps are cut by
          ``(1 - term)``, a time-limit end bootstraps). Padded steps t >= L are returned as 0.
eq. (36)  y_t = G^(1)_t before training step T_0 and G^lambda_t after (``onestep_first``), or the other
          way round (``lambda_first``), or a single kind throughout (``lambda_only``/``onestep_only``).
lambda = 0 gives the one-step target r_t + gamma (1 - term_t) z_{t+1}.
:func:`episode_end_as_terminal` marks every episode's last step terminal, so a time-limit end is cut
instead (``MastConfig.time_limit_bootstrap=False``).
"""

from __future__ import annotations

import torch

HYBRID_ORDERS = ("onestep_first", "lambda_first", "lambda_only", "onestep_only")


def td_lambda_targets(rewards: torch.Tensor, terminated: torch.Tensor, filled: torch.Tensor,
                      z: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Spec eq. (35). Shapes: ``rewards, terminated, filled`` (B, T); ``z`` (B, T+1) with ``z[:, t]``
    the bootstrapped value of the state at time ``t``. Returns (B, T)."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam!r}")
    b, t_len = rewards.shape
    if z.shape != (b, t_len + 1):
        raise ValueError(f"z must have shape {(b, t_len + 1)}, got {tuple(z.shape)}")
    out = torch.zeros_like(rewards)
    g_next = z[:, t_len]
    for t in range(t_len - 1, -1, -1):
        # the continuation is G_{t+1} while step t+1 is inside the episode, else z_{t+1} (episode end)
        live_next = filled[:, t + 1] > 0 if t + 1 < t_len else torch.zeros_like(filled[:, t], dtype=torch.bool)
        cont = torch.where(live_next, g_next, z[:, t + 1])
        g = rewards[:, t] + gamma * (1.0 - terminated[:, t]) * ((1.0 - lam) * z[:, t + 1] + lam * cont)
        g = torch.where(filled[:, t] > 0, g, torch.zeros_like(g))  # padding may hold inf/nan: drop it
        out[:, t] = g
        g_next = g
    return out


def episode_end_as_terminal(terminated: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
    """``terminated`` (B, T) with every episode's last filled step set to 1, so a time-limit end is cut
    like a terminal state (``time_limit_bootstrap=False``; the default bootstraps, as EPyMARL's
    ``add_value_last_step``)."""
    nxt = torch.cat([filled[:, 1:], torch.zeros_like(filled[:, :1])], dim=1)
    last = (filled > 0) & (nxt <= 0)
    return torch.where(last, torch.ones_like(terminated), terminated)


class HybridTargetSchedule:
    """Which lambda eq. (36) uses at training step ``t`` (``0`` means one-step targets)."""

    def __init__(self, order: str, t0: int, lam: float) -> None:
        if order not in HYBRID_ORDERS:
            raise ValueError(f"hybrid_order must be one of {', '.join(HYBRID_ORDERS)}, got {order!r}")
        if t0 < 0:
            raise ValueError(f"T_0 must be non-negative, got {t0!r}")
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lambda must be in [0, 1], got {lam!r}")
        self.order, self.t0, self.lam = order, int(t0), float(lam)

    def __call__(self, t: int) -> float:
        if self.order == "lambda_only":
            return self.lam
        if self.order == "onestep_only":
            return 0.0
        before = t < self.t0
        if self.order == "onestep_first":
            return 0.0 if before else self.lam
        return self.lam if before else 0.0
