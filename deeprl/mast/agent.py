"""Recurrent agent network with parameter sharing, spec ``sparse.md`` §3.1.

obs (+ one-hot of the agent's last action + one-hot agent id) -> Linear(64) -> ReLU -> GRU cell (64)
-> Linear(|A|). One network serves all agents (parameters shared); the agent id in the input lets
the agents behave differently. The recurrent cell is a one-layer ``nn.GRU``: the same maths and the same
two matrices as ``nn.GRUCell`` (``weight_ih_l0``, ``weight_hh_l0``), but a whole episode batch is unrolled
in one call (about 30% faster than a Python loop over ``GRUCell`` on our CPU). The sparse engine masks
``fc1.weight``, ``rnn.weight_ih_l0``, ``rnn.weight_hh_l0`` and ``fc2.weight`` (GRU matrices as two sparse
layers, spec §1.1).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def agent_input_dim(obs_dim: int, n_agents: int, n_actions: int, last_action: bool = True,
                    agent_id: bool = True) -> int:
    return obs_dim + (n_actions if last_action else 0) + (n_agents if agent_id else 0)


def build_agent_inputs(obs: torch.Tensor, last_actions: torch.Tensor | None, n_actions: int,
                       last_action: bool = True, agent_id: bool = True) -> torch.Tensor:
    """Inputs of shape (..., n_agents, in_dim) from ``obs`` (..., n, obs_dim) and the previous actions
    ``last_actions`` (..., n) as integer indices (``-1`` or ``None`` = no previous action)."""
    parts = [obs]
    n = obs.shape[-2]
    if last_action:
        onehot = torch.zeros(*obs.shape[:-1], n_actions, dtype=obs.dtype, device=obs.device)
        if last_actions is not None:
            la = last_actions.long()
            valid = la >= 0
            onehot.scatter_(-1, la.clamp(min=0).unsqueeze(-1), valid.unsqueeze(-1).to(obs.dtype))
        parts.append(onehot)
    if agent_id:
        eye = torch.eye(n, dtype=obs.dtype, device=obs.device)
        parts.append(eye.expand(*obs.shape[:-1], n))
    return torch.cat(parts, dim=-1)


class RNNAgent(nn.Module):
    """Shared GRU agent: ``forward(inputs (N, in), h (N, H)) -> (q (N, |A|), h' (N, H))``."""

    def __init__(self, input_dim: int, n_actions: int, hidden: int = 64) -> None:
        super().__init__()
        self.hidden = hidden
        self.fc1 = nn.Linear(input_dim, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.fc2 = nn.Linear(hidden, n_actions)

    def init_hidden(self, n: int) -> torch.Tensor:
        return self.fc1.weight.new_zeros(n, self.hidden)

    def forward(self, inputs: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.fc1(inputs)).unsqueeze(1)
        out, h_new = self.rnn(x, h.unsqueeze(0))
        return self.fc2(out[:, 0]), h_new[0]

    def unroll(self, inputs: torch.Tensor) -> torch.Tensor:
        """Utilities for a batch of episodes from a zero hidden state: ``inputs`` (B, T, n, in) ->
        (B, T, n, |A|)."""
        b, t_len, n, d = inputs.shape
        x = F.relu(self.fc1(inputs.transpose(1, 2).reshape(b * n, t_len, d)))
        out, _ = self.rnn(x)
        return self.fc2(out).view(b, n, t_len, -1).transpose(1, 2)
