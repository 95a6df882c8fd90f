"""The RSD4 learner and its ablations (RSD4 spec §2.2-2.4, §2.9) on per-user sequences.

One training iteration (spec §2.4): for j = 1, 2 draw a fresh batch B_j, regress critic Q_j on the
target of eqs. (12)-(15); on a policy step (every ``policy_delay`` iterations) update actor pi_j by
maximising Q_j(o, pi_j(o)) and soft-update Q_j' and pi_j'. Variants: one actor (RTD3/TD3: both
critics regress on the TD3 target min_j Q_j'(o', pi'(o') + clipped noise), the actor follows Q_1),
no recurrence (SD3/TD3: feed-forward networks without the last-action input).

Split critic (``split_critic``, ours, a departure from the spec's scalar critic; issue #8). The reward of
eq. (8), r = beta S - lambda E, is linear in a lambda that does not touch the dynamics, so for any fixed
policy Q_lambda = Q_S - lambda Q_E with Q_S, Q_E the discounted sums of beta S and of E. Each critic then
has two outputs (Q_S, Q_E), regressed on their own targets (eq. (15) per component,
y_S = beta S + gamma V_S', y_E = E + gamma V_E'); every place that needs a value (the clipped double-Q
minimum of eq. (13), the softmax weights of eq. (14), the actor's objective and the double-actor choice
of eq. (16)) uses the combination Q_S - lambda Q_E at the sequence's lambda, and the target keeps the
components of the chosen critic and sample, so V = V_S - lambda V_E holds exactly. With lambda sampled
per sequence (``dual='calibrate'``) the critic no longer has to learn how lambda scales the energy term:
the actor's gradient carries -lambda dQ_E/da by construction.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from .config import RSD4Config
from .networks import MLPActor, MLPCritic, RecurrentActor, RecurrentCritic


def softmax_weights(q: torch.Tensor, beta: float, log_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The normalised weights of eq. (14) in log space: w_k ∝ exp(beta (q_k - max q)) [x IS term]."""
    logits = beta * (q - q.max(dim=-1, keepdim=True).values)
    if log_weights is not None:
        logits = logits + log_weights
    return torch.softmax(logits, dim=-1)


def softmax_value(q: torch.Tensor, beta: float, log_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. (14) in log space: sum_k w_k q_k / sum_k w_k, log w_k = beta (q_k - max q) [- IS term].

    ``q`` has the samples on the last axis. beta -> 0 gives the sample mean, beta -> inf the max.
    """
    return (softmax_weights(q, beta, log_weights) * q).sum(-1)


def combine(q: torch.Tensor, lam: torch.Tensor | None) -> torch.Tensor:
    """Split critic: Q_lambda = Q_S - lambda Q_E from ``q`` (..., 2) with ``lam`` (B,) per sequence (the
    leading axis); a scalar critic's ``q`` (``lam`` None) is returned as it is."""
    if lam is None:
        return q
    lam = lam.reshape(-1, *([1] * (q.dim() - 2)))
    return q[..., 0] - lam * q[..., 1]


class RSD4Agent:
    """Double (or single) actors, twin critics, their targets and optimisers; acting and training."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: RSD4Config) -> None:
        self.cfg = cfg
        self.obs_dim, self.act_dim = obs_dim, act_dim
        A, C = (RecurrentActor, RecurrentCritic) if cfg.recurrent else (MLPActor, MLPCritic)
        n_act = 2 if cfg.double_actor else 1
        self.split = cfg.split_critic
        self.actors = [A(obs_dim, act_dim, cfg.hidden) for _ in range(n_act)]
        self.critics = [C(obs_dim, act_dim, cfg.hidden, n_out=2 if self.split else 1) for _ in range(2)]
        self.actor_targets = [copy.deepcopy(a) for a in self.actors]
        self.critic_targets = [copy.deepcopy(c) for c in self.critics]
        for net in self.actor_targets + self.critic_targets:
            net.requires_grad_(False)
        opt = lambda net: torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)  # noqa: E731
        self.actor_opts = [opt(a) for a in self.actors]
        self.critic_opts = [opt(c) for c in self.critics]
        self.iterations = 0

    # ------------------------------------------------------------------------------ acting
    def initial_state(self) -> dict:
        return {"actors": [None] * len(self.actors), "critics": [None] * 2}

    @torch.no_grad()
    def act(self, obs: np.ndarray, prev_act: np.ndarray, state: dict, lam: float | None = None
            ) -> tuple[np.ndarray, dict]:
        """Eq. (16) for a batch of users: each network carries its own LSTM state (one step).

        ``lam`` (the episode's lambda) is needed by the split critic to compare the two actors."""
        if self.split and lam is None and len(self.actors) > 1:
            raise ValueError("lam is required to act with a split critic and two actors")
        o = torch.as_tensor(obs, dtype=torch.float32).unsqueeze(1)
        pa = torch.as_tensor(prev_act, dtype=torch.float32).unsqueeze(1)
        acts, a_states = [], []
        for actor, st in zip(self.actors, state["actors"]):
            a, st2 = actor(o, pa, st)
            acts.append(a)
            a_states.append(st2)
        c_states = []
        ms = []
        for critic, st in zip(self.critics, state["critics"]):
            m, st2 = critic.memory(o, pa, st)
            ms.append(m)
            c_states.append(st2)
        if len(acts) == 1:
            best = acts[0]
        else:
            lam_b = torch.full((o.shape[0],), float(lam)) if self.split else None
            q = torch.stack([combine(self.critics[j].head(o, acts[j], ms[j]), lam_b) for j in range(len(acts))], 0)
            j_star = q.argmax(0)  # (B, 1)
            best = torch.where(j_star.unsqueeze(-1) == 0, acts[0], acts[1])
        return best.squeeze(1).numpy(), {"actors": a_states, "critics": c_states}

    # ------------------------------------------------------------------------------ training
    @staticmethod
    @torch.no_grad()
    def _burn_in(net: torch.nn.Module, batch: dict[str, torch.Tensor], critic: bool):
        """Initial LSTM state after the burn-in prefix (no gradient, R2D2; spec §2.6), or None.

        Rows without a prefix (windows that start at t = 0) keep the zero state.
        """
        if "pre_obs" not in batch or not hasattr(net, "lstm"):
            return None
        fn = net.memory if critic else net
        _, (h, c) = fn(batch["pre_obs"], batch["pre_prev"])
        keep = batch["has_prefix"].view(1, -1, 1)
        return (h * keep, c * keep)

    def _target_values(self, obs: torch.Tensor, prev_act: torch.Tensor, act: torch.Tensor, j: int,
                       batch: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """V(o_{t+1}) for t = 0..T-1 from target networks unrolled over o_0..o_T (spec §2.2-2.3).

        Shape (B, T); with the split critic (B, T, 2) = (V_S, V_E) of the critic and sample weights that
        the combined value Q_S - lambda Q_E selects (so V_S - lambda V_E is eq. (13)-(14) on Q_lambda).
        """
        cfg = self.cfg
        b = batch or {}
        lam = b["lam"] if self.split else None
        # inputs at positions 0..T: o_t with a_{t-1}; positions 1..T are the next states
        prev_full = torch.cat([prev_act, act[:, -1:]], 1)  # a_{-1..T-1}
        actor_t = self.actor_targets[j if cfg.double_actor else 0]
        a_next, _ = actor_t(obs, prev_full, self._burn_in(actor_t, b, False))
        a_next = a_next[:, 1:]
        o_next = obs[:, 1:]
        ms = [ct.memory(obs, prev_full, self._burn_in(ct, b, True))[0][:, 1:] for ct in self.critic_targets]
        if cfg.softmax:
            K = cfg.n_samples
            eps = torch.randn(*a_next.shape[:-1], K, a_next.shape[-1]) * cfg.target_sigma
            a_k = (a_next.unsqueeze(-2) + eps).clamp(-1.0, 1.0)  # eq. (12): RSD4 leaves eps unclipped
        else:
            eps = (torch.randn_like(a_next) * cfg.target_sigma).clamp(-cfg.td3_noise_clip, cfg.td3_noise_clip)
            a_k = (a_next + eps).clamp(-1.0, 1.0)
        q0 = self.critic_targets[0].head(o_next, a_k, ms[0])
        q1 = self.critic_targets[1].head(o_next, a_k, ms[1])
        c0, c1 = combine(q0, lam), combine(q1, lam)
        q = torch.where((c0 <= c1).unsqueeze(-1), q0, q1) if self.split else torch.minimum(q0, q1)  # eq. (13)
        if not cfg.softmax:
            return q
        logw = None
        if cfg.importance_sampling:
            logphi = (-0.5 * (eps / cfg.target_sigma) ** 2 - math.log(cfg.target_sigma * math.sqrt(2 * math.pi))
                      ).sum(-1)
            logw = -logphi
        if not self.split:
            return softmax_value(q, cfg.softmax_beta, logw)  # eq. (14)
        w = softmax_weights(torch.minimum(c0, c1), cfg.softmax_beta, logw)  # eq. (14) on Q_lambda
        return (w.unsqueeze(-1) * q).sum(-2)

    def update(self, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        """One training iteration on two fresh batches (B1 for Q1/pi1, B2 for Q2/pi2).

        Each batch: ``obs`` (B, T+1, D), ``prev_act`` (B, T, A) = a_{-1..T-2}, ``act`` (B, T, A),
        ``reward`` (B, T) (eq. (8) at the current lambda), ``terminal`` (B, T), ``filled`` (B, T); the split
        critic needs ``reward_parts`` (B, T, 2) = (beta S, E) and ``lam`` (B,) instead of ``reward``.
        Truncated BPTT (spec §2.6): optional ``pre_obs``/``pre_prev`` (B, burn, .) and ``has_prefix`` (B,)
        give a burn-in prefix that sets every network's initial state without gradient.
        """
        cfg = self.cfg
        self.iterations += 1
        policy_step = self.iterations % cfg.policy_delay == 0
        stats = {}
        for j, b in enumerate(batches):
            obs, prev, act = b["obs"], b["prev_act"], b["act"]
            lam = b["lam"] if self.split else None
            with torch.no_grad():
                v = self._target_values(obs, prev, act, j, b)
                cont = cfg.gamma * (1 - b["terminal"])
                if self.split:  # eq. (15) per component
                    y = b["reward_parts"] + cont.unsqueeze(-1) * v
                else:
                    y = b["reward"] + cont * v  # eq. (15)
            critic = self.critics[j]
            q, _ = critic(obs[:, :-1], act, prev, self._burn_in(critic, b, True))
            mask = b["filled"]
            err = (q - y) ** 2
            loss = ((err.sum(-1) if self.split else err) * mask).sum() / mask.sum()
            self.critic_opts[j].zero_grad()
            loss.backward()
            self.critic_opts[j].step()
            stats[f"critic_loss_{j + 1}"] = loss.item()
            if policy_step and (cfg.double_actor or j == 0):
                actor = self.actors[j]
                a_pi, _ = actor(obs[:, :-1], prev, self._burn_in(actor, b, False))
                m, _ = critic.memory(obs[:, :-1], prev, self._burn_in(critic, b, True))
                q_pi = combine(critic.head(obs[:, :-1], a_pi, m.detach()), lam)
                a_loss = -(q_pi * mask).sum() / mask.sum()
                self.actor_opts[j].zero_grad()
                a_loss.backward()
                self.actor_opts[j].step()
                critic.zero_grad(set_to_none=True)
                stats[f"actor_loss_{j + 1}"] = a_loss.item()
                self._soft_update(actor, self.actor_targets[j])
                self._soft_update(critic, self.critic_targets[j])
            elif policy_step and not cfg.double_actor and j == 1:
                self._soft_update(critic, self.critic_targets[j])
        return stats

    def _soft_update(self, net: torch.nn.Module, target: torch.nn.Module) -> None:
        with torch.no_grad():
            for p, pt in zip(net.parameters(), target.parameters()):
                pt.mul_(1 - self.cfg.tau_soft).add_(p, alpha=self.cfg.tau_soft)

    # ------------------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "actors": [a.state_dict() for a in self.actors],
            "critics": [c.state_dict() for c in self.critics],
            "actor_targets": [a.state_dict() for a in self.actor_targets],
            "critic_targets": [c.state_dict() for c in self.critic_targets],
            "actor_opts": [o.state_dict() for o in self.actor_opts],
            "critic_opts": [o.state_dict() for o in self.critic_opts],
            "iterations": self.iterations,
        }

    def load_state_dict(self, s: dict) -> None:
        for nets, key in ((self.actors, "actors"), (self.critics, "critics"), (self.actor_targets, "actor_targets"),
                          (self.critic_targets, "critic_targets"), (self.actor_opts, "actor_opts"),
                          (self.critic_opts, "critic_opts")):
            for net, sd in zip(nets, s[key]):
                net.load_state_dict(sd)
        self.iterations = int(s["iterations"])
