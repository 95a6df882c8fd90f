"""The actor and critic networks of RLx2's TD3 and SAC (spec §2.1): plain MLPs of ``nn.Linear`` layers.

Sparsity is *not* part of these classes: the sparse engine (``deeprl.sparse``) keeps the masks beside the
optimizer and masks every ``nn.Linear.weight`` of a group (spec §1.1). Biases stay dense.
The twin critic is one module holding both Q-nets, so one sparse group ("critic") covers its six layers
and the ER budget is solved over them jointly, as in RLx2 (spec §1.3, "Budget scope").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class _ActionScale(nn.Module):
    """Maps [-1, 1] to the box [low, high] (a = bias + scale * u); buffers, so they move with .to()."""

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        super().__init__()
        low_t = torch.as_tensor(np.asarray(low, dtype=np.float32))
        high_t = torch.as_tensor(np.asarray(high, dtype=np.float32))
        if not torch.all(torch.isfinite(low_t) & torch.isfinite(high_t) & (high_t > low_t)):
            raise ValueError("the action space must be a bounded Box with high > low in every dimension")
        self.register_buffer("scale", (high_t - low_t) / 2)
        self.register_buffer("bias", (high_t + low_t) / 2)


class DeterministicActor(_ActionScale):
    """TD3 actor: obs -> 256 -> 256 -> act, ReLU, tanh scaled to the action box (spec §2.1)."""

    def __init__(self, obs_dim: int, act_dim: int, low: np.ndarray, high: np.ndarray,
                 hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__(low, high)
        self.net = mlp([obs_dim, *hidden, act_dim])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.bias + self.scale * torch.tanh(self.net(obs))

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The behaviour mean action a^mu (spec §2.3): the output before exploration noise."""
        return self(obs)


class GaussianActor(_ActionScale):
    """SAC actor: obs -> 256 -> 256 -> 2*act (mean, log_std clamped to [-5, 2]); tanh-squashed Gaussian."""

    def __init__(self, obs_dim: int, act_dim: int, low: np.ndarray, high: np.ndarray,
                 hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__(low, high)
        self.act_dim = act_dim
        self.net = mlp([obs_dim, *hidden, 2 * act_dim])

    def _dist(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(obs)
        mean, log_std = out[..., : self.act_dim], out[..., self.act_dim :]
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised action a = bias + scale*tanh(u), u ~ N(mean, std), and log pi(a|s).

        The change of variables uses log(1 - tanh(u)^2) = 2(log 2 - u - softplus(-2u)) (stable form).
        """
        mean, log_std = self._dist(obs)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        logp_u = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_det = (2 * (math.log(2.0) - u - nn.functional.softplus(-2 * u))).sum(-1) + torch.log(self.scale).sum()
        return self.bias + self.scale * torch.tanh(u), logp_u - log_det

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic (evaluation) action bias + scale*tanh(mean)."""
        return self.mean_action(obs)

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The behaviour mean action a^mu = tanh(mean) in the action box (spec §2.3)."""
        mean, _ = self._dist(obs)
        return self.bias + self.scale * torch.tanh(mean)


class TwinQ(nn.Module):
    """Twin critic: two independent (obs, act) -> 256 -> 256 -> 1 Q-networks in one module."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.q1 = mlp([obs_dim + act_dim, *hidden, 1])
        self.q2 = mlp([obs_dim + act_dim, *hidden, 1])

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, act], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)

    def q1_value(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.q1(torch.cat([obs, act], dim=-1)).squeeze(-1)


def tiny_width(n_in: int, n_out: int, sparsity: float, hidden: int = 256) -> int:
    """Width h' of the dense "Tiny" 2-hidden-layer MLP with the sparse one's parameter count (spec eq. 26).

    Solves h'^2 + h'(n_in + n_out + 2) + n_out = (1 - S) * P_dense, P_dense = hidden^2 + hidden(n_in + n_out
    + 2) + n_out (weights and biases). Actor: n_in = obs, n_out = act (SAC: 2 act); one Q-net: n_in = obs + act,
    n_out = 1. HalfCheetah actor at S = 0.9: h' = 73.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    b = n_in + n_out + 2
    p_dense = hidden * hidden + hidden * b + n_out
    c = n_out - (1 - sparsity) * p_dense
    return max(1, int(round((-b + math.sqrt(b * b - 4 * c)) / 2)))
