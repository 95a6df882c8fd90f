"""RSD4 networks: the two-branch recurrent actor and critic of RSD4 spec eqs. (10)-(11), and the
feed-forward versions used by the SD3/TD3 ablations (spec §2.9).

All networks take whole sequences, shape (B, T, .), with an explicit LSTM state so that acting can
carry one state per network (spec §2.4, "our change to acting"). The critic's recurrent branch sees
only (o_t, a_{t-1}); :meth:`RecurrentCritic.memory` computes it once and :meth:`RecurrentCritic.head`
scores any number of candidate actions against it (the shared-branch evaluation of spec §2.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, torch.Tensor] | None


def _init(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases (spec §2.2)."""
    for name, p in module.named_parameters():
        if p.dim() >= 2:
            nn.init.xavier_uniform_(p)
        elif "bias" in name:
            nn.init.zeros_(p)


class RecurrentActor(nn.Module):
    """Eq. (10): h = ReLU(W1 o); z = ReLU(W2 [o, a_prev]); (m, s) = LSTM(z, s); a = a_max tanh(W4 ReLU(W3 [h, m]))."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 32, a_max: float = 1.0) -> None:
        super().__init__()
        self.a_max = a_max
        self.w1 = nn.Linear(obs_dim, hidden)
        self.w2 = nn.Linear(obs_dim + act_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.w3 = nn.Linear(2 * hidden, hidden)
        self.w4 = nn.Linear(hidden, act_dim)
        _init(self)

    def forward(self, obs: torch.Tensor, prev_act: torch.Tensor, state: State = None
                ) -> tuple[torch.Tensor, State]:
        h = torch.relu(self.w1(obs))
        z = torch.relu(self.w2(torch.cat([obs, prev_act], -1)))
        m, state = self.lstm(z, state)
        return self.a_max * torch.tanh(self.w4(torch.relu(self.w3(torch.cat([h, m], -1))))), state


def _squeeze(q: torch.Tensor, n_out: int) -> torch.Tensor:
    """One output: drop the head axis (Q of shape (...)); several (the split critic): keep it (..., n_out)."""
    return q.squeeze(-1) if n_out == 1 else q


class RecurrentCritic(nn.Module):
    """Eq. (11): h = ReLU(W1 [o, a]); m from the LSTM branch on [o, a_prev]; Q = W4 ReLU(W3 [h, m]).

    ``n_out = 2`` gives the split critic (Q_S, Q_E) of :mod:`deeprl.rsd4.agent` (ours): W4 has two rows.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 32, n_out: int = 1) -> None:
        super().__init__()
        self.n_out = n_out
        self.w1 = nn.Linear(obs_dim + act_dim, hidden)
        self.w2 = nn.Linear(obs_dim + act_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.w3 = nn.Linear(2 * hidden, hidden)
        self.w4 = nn.Linear(hidden, n_out)
        _init(self)

    def memory(self, obs: torch.Tensor, prev_act: torch.Tensor, state: State = None
               ) -> tuple[torch.Tensor, State]:
        """The recurrent branch m_t (depends on (o_t, a_{t-1}) only, not on the scored action)."""
        z = torch.relu(self.w2(torch.cat([obs, prev_act], -1)))
        return self.lstm(z, state)

    def head(self, obs: torch.Tensor, act: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Q from a precomputed memory; ``act`` may carry an extra sample axis (..., K, act_dim).

        W1 [o, a] = W1_o o + W1_a a and W3 [h, m] = W3_h h + W3_m m: the o- and m-terms are computed once
        per (sequence, step) and broadcast over the K samples, so only W1_a, W3_h and W4 run K times
        (the same Q as concatenating, up to float rounding; spec §2.2 shared-branch evaluation).
        """
        d, k = obs.shape[-1], self.w3.in_features // 2
        pre_o = F.linear(obs, self.w1.weight[:, :d], self.w1.bias)
        pre_m = F.linear(m, self.w3.weight[:, k:], self.w3.bias)
        if act.dim() == obs.dim() + 1:
            pre_o, pre_m = pre_o.unsqueeze(-2), pre_m.unsqueeze(-2)
        h = torch.relu_(F.linear(act, self.w1.weight[:, d:]) + pre_o)
        return _squeeze(self.w4(torch.relu_(F.linear(h, self.w3.weight[:, :k]) + pre_m)), self.n_out)

    def forward(self, obs: torch.Tensor, act: torch.Tensor, prev_act: torch.Tensor, state: State = None
                ) -> tuple[torch.Tensor, State]:
        m, state = self.memory(obs, prev_act, state)
        return self.head(obs, act, m), state


class MLPActor(nn.Module):
    """Feed-forward actor (SD3/TD3 ablations): a = a_max tanh(W3 ReLU(W2 ReLU(W1 o)))."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 32, a_max: float = 1.0) -> None:
        super().__init__()
        self.a_max = a_max
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, act_dim))
        _init(self)

    def forward(self, obs: torch.Tensor, prev_act: torch.Tensor, state: State = None
                ) -> tuple[torch.Tensor, State]:
        return self.a_max * torch.tanh(self.net(obs)), None


class MLPCritic(nn.Module):
    """Feed-forward critic Q(o, a) with the same interface as :class:`RecurrentCritic` (memory = nothing)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 32, n_out: int = 1) -> None:
        super().__init__()
        self.n_out = n_out
        self.net = nn.Sequential(nn.Linear(obs_dim + act_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, n_out))
        _init(self)

    def memory(self, obs: torch.Tensor, prev_act: torch.Tensor, state: State = None
               ) -> tuple[torch.Tensor, State]:
        return obs.new_zeros(*obs.shape[:-1], 0), None

    def head(self, obs: torch.Tensor, act: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Q(o, a); ``act`` may carry a sample axis. The first layer is split as W_o o + W_a a, with the
        o-term computed once and broadcast over the samples (as in :meth:`RecurrentCritic.head`)."""
        first, d = self.net[0], obs.shape[-1]
        pre_o = F.linear(obs, first.weight[:, :d], first.bias)
        if act.dim() == obs.dim() + 1:
            pre_o = pre_o.unsqueeze(-2)
        return _squeeze(self.net[2:](torch.relu_(F.linear(act, first.weight[:, d:]) + pre_o)), self.n_out)

    def forward(self, obs: torch.Tensor, act: torch.Tensor, prev_act: torch.Tensor, state: State = None
                ) -> tuple[torch.Tensor, State]:
        return self.head(obs, act, None), None
