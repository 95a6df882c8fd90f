"""Mixing networks, spec ``sparse.md`` §3.1.

- :class:`QMixer`, eq. (27): Q_tot = w2(s)^T ELU(W1(s)^T q + b1(s)) + V(s) with W1 = |h_w1(s)|,
  w2 = |h_w2(s)| (absolute values make Q_tot monotone in every q_i), b1 = h_b1(s) (Linear),
  V = Linear(E) -> ReLU -> Linear(1); h_w1, h_w2 = Linear(state, 64) -> ReLU -> Linear. E = 32.
- :class:`CentralFFMixer`, WQMIX's unrestricted Q-hat* mixer (oxwhirl/wqmix ``QMixerCentralFF``):
  a feed-forward net over [q_1..q_n, s] (3 hidden layers of 256, ReLU) plus V(s). Not monotone.

Every ``nn.Linear`` weight here is a sparse layer of the "mixer" group (hypernetworks included).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class QMixer(nn.Module):
    """Monotonic hypernetwork mixer: ``forward(qs (B, T, n), states (B, T, S)) -> (B, T)``."""

    def __init__(self, n_agents: int, state_dim: int, embed: int = 32, hypernet_embed: int = 64) -> None:
        super().__init__()
        self.n_agents, self.embed = n_agents, embed
        self.hyper_w1 = nn.Sequential(nn.Linear(state_dim, hypernet_embed), nn.ReLU(),
                                      nn.Linear(hypernet_embed, n_agents * embed))
        self.hyper_w2 = nn.Sequential(nn.Linear(state_dim, hypernet_embed), nn.ReLU(),
                                      nn.Linear(hypernet_embed, embed))
        self.hyper_b1 = nn.Linear(state_dim, embed)
        self.V = nn.Sequential(nn.Linear(state_dim, embed), nn.ReLU(), nn.Linear(embed, 1))

    def forward(self, qs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        lead = qs.shape[:-1]
        s = states.reshape(-1, states.shape[-1])
        q = qs.reshape(-1, 1, self.n_agents)
        w1 = torch.abs(self.hyper_w1(s)).view(-1, self.n_agents, self.embed)
        b1 = self.hyper_b1(s).view(-1, 1, self.embed)
        hidden = F.elu(torch.bmm(q, w1) + b1)
        w2 = torch.abs(self.hyper_w2(s)).view(-1, self.embed, 1)
        y = torch.bmm(hidden, w2).view(-1) + self.V(s).view(-1)
        return y.view(lead)


class CentralFFMixer(nn.Module):
    """WQMIX central mixer: ``forward(qs (B, T, n), states (B, T, S)) -> (B, T)``, unrestricted."""

    def __init__(self, n_agents: int, state_dim: int, embed: int = 256, v_embed: int = 32) -> None:
        super().__init__()
        self.n_agents = n_agents
        self.net = nn.Sequential(nn.Linear(n_agents + state_dim, embed), nn.ReLU(),
                                 nn.Linear(embed, embed), nn.ReLU(),
                                 nn.Linear(embed, embed), nn.ReLU(), nn.Linear(embed, 1))
        self.V = nn.Sequential(nn.Linear(state_dim, v_embed), nn.ReLU(), nn.Linear(v_embed, 1))

    def forward(self, qs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        x = torch.cat([qs, states], dim=-1)
        return (self.net(x) + self.V(states)).squeeze(-1)
