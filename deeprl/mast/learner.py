"""The QMIX-family learner with MAST's targets, spec ``sparse.md`` §3.1-3.3.

One training step on a minibatch of B padded episodes (T transitions, n agents):

1. unroll the online and target agent networks over t = 0..T (``T+1`` observations);
2. z_t, the bootstrapped value of the state at time t (the one-step target quantity):
   - QMIX, eq. (28): Q'_tot(s_t, [Q'_i(tau_i, u-bar_i)]) with u-bar the *online* greedy actions
     (double Q); with Soft Mellowmax, eq. (34): Q'_tot(s_t, [sm_w(Q'_i(tau_i, .))]);
   - WQMIX: the same with the central networks (Q-hat*'), §3.1;
   - RES, eq. (30): sum_c softmax_beta(Q_tot(s_t, c)) Q'_tot(s_t, c) over the n|A| counterfactual joint
     actions that change one agent's action in u-bar (with Soft Mellowmax, the unchanged agents'
     utilities are sm_w(Q'_j) [our choice, spec §3.2 "same substitution"]);
3. targets y by the TD(lambda) recursion eq. (35) with lambda from the hybrid schedule eq. (36)
   (lambda = 0: one-step);
4. loss eq. (28) (masked MSE); WQMIX adds the weights of eq. (29) and the unweighted central loss;
   RES adds lambda_R * mean((Q_tot - G_t)^2) with G_t the episode's discounted return-to-go;
5. one optimizer step through the sparse engine (masked gradients, topology updates, FLOPs).

Rewards are standardised by running statistics (EPyMARL ``standardise_rewards``, spec §3.2 note).
A time-limit end bootstraps from z_L (EPyMARL's ``add_value_last_step``); ``time_limit_bootstrap=False`` cuts
it as at a terminal state (our diagnostic switch, ``--no-time-limit-bootstrap``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from deeprl.mast.agent import RNNAgent, agent_input_dim, build_agent_inputs
from deeprl.mast.config import MastConfig
from deeprl.mast.mixers import CentralFFMixer, QMixer
from deeprl.mast.soft_mellowmax import soft_mellowmax
from deeprl.mast.sparsity import SparseNetworks
from deeprl.mast.td_lambda import HybridTargetSchedule, episode_end_as_terminal, td_lambda_targets

NEG_INF = -1e10


class RunningMeanStd:
    """Running mean/variance of scalars (Chan et al. parallel update), for reward standardisation."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def update(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        b_mean, b_var, b_n = float(x.mean()), float(x.var()), float(x.size)
        delta, tot = b_mean - self.mean, self.count + b_n
        m2 = self.var * self.count + b_var * b_n + delta**2 * self.count * b_n / tot
        self.mean, self.var, self.count = self.mean + delta * b_n / tot, m2 / tot, tot

    def state_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, s: Mapping[str, float]) -> None:
        self.mean, self.var, self.count = float(s["mean"]), float(s["var"]), float(s["count"])


class QLearner:
    """Owns the networks, their targets, the optimizer and the sparse engine of one run."""

    def __init__(self, cfg: MastConfig, env_info: Mapping[str, Any], total_train_steps: int) -> None:
        self.cfg = cfg
        self.n = int(env_info["n_agents"])
        self.n_actions = int(env_info["n_actions"])
        self.state_dim = int(env_info["state_dim"])
        in_dim = agent_input_dim(int(env_info["obs_dim"]), self.n, self.n_actions)
        dev = torch.device(cfg.device)
        self.device = dev
        self.nets: dict[str, nn.Module] = {
            "agent": RNNAgent(in_dim, self.n_actions, cfg.hidden),
            "mixer": QMixer(self.n, self.state_dim, cfg.mixer_embed, cfg.hypernet_embed),
        }
        if cfg.algorithm == "wqmix":
            self.nets["central_agent"] = RNNAgent(in_dim, self.n_actions, cfg.hidden)
            self.nets["central_mixer"] = CentralFFMixer(self.n, self.state_dim, cfg.central_embed)
        for m in self.nets.values():
            m.to(dev)
        params = [p for m in self.nets.values() for p in m.parameters()]
        if cfg.optimizer == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(params, lr=cfg.lr)
        else:
            self.optimizer = torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.99, eps=1e-5)
        self.targets: dict[str, nn.Module] = {k: copy.deepcopy(m) for k, m in self.nets.items()}
        for m in self.targets.values():
            m.requires_grad_(False)
        self.sparse = SparseNetworks(cfg, self.nets, self.targets, self.optimizer, total_train_steps)
        self.sparse.set_sizes(self.n, self.n_actions)
        self.schedule = HybridTargetSchedule(
            cfg.hybrid_order if cfg.hybrid_td else "onestep_only", int(cfg.t0_frac * total_train_steps),
            cfg.td_lambda)
        self.rew_ms = RunningMeanStd()
        self._eye = np.eye(self.n, dtype=np.float32)
        self.train_steps = 0
        self.episodes_at_last_target_update = 0

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act_utilities(self, obs: np.ndarray, last_actions: np.ndarray, h: torch.Tensor
                      ) -> tuple[np.ndarray, torch.Tensor]:
        """Utilities (n, |A|) of the online agent net for one step; ``h`` is the hidden state (n, H)."""
        # the same inputs as build_agent_inputs, assembled in NumPy (cheaper for one step of n agents)
        onehot = np.zeros((self.n, self.n_actions), np.float32)
        has = last_actions >= 0
        onehot[np.flatnonzero(has), last_actions[has]] = 1.0
        x = np.concatenate([obs.astype(np.float32, copy=False), onehot, self._eye], axis=1)
        q, h = self.nets["agent"](torch.from_numpy(x).to(self.device), h)
        return q.cpu().numpy(), h

    def init_hidden(self) -> torch.Tensor:
        return self.nets["agent"].init_hidden(self.n)

    # ------------------------------------------------------------------ targets
    def _unroll(self, net: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        return net.unroll(inputs)

    def _z_values(self, batch: Mapping[str, torch.Tensor], mac_out: torch.Tensor, inputs: torch.Tensor,
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """z_t for t = 0..T (B, T+1) and extra tensors the loss needs (no grad)."""
        cfg = self.cfg
        avail = batch["avail"].bool()
        states = batch["state"]
        extra: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            greedy = mac_out.detach().masked_fill(~avail, NEG_INF).argmax(-1)  # double Q: online argmax
            extra["greedy"] = greedy
            if cfg.algorithm == "wqmix":
                t_agent, t_mixer = self.targets["central_agent"], self.targets["central_mixer"]
            else:
                t_agent, t_mixer = self.targets["agent"], self.targets["mixer"]
            t_out = self._unroll(t_agent, inputs)
            at_greedy = t_out.gather(-1, greedy.unsqueeze(-1)).squeeze(-1)
            if cfg.soft_mellowmax:
                live = avail.any(-1)  # padded steps have no available action: sm would be nan there
                util = soft_mellowmax(t_out, cfg.omega, cfg.sm_alpha, avail | ~live.unsqueeze(-1))
                gap = t_out.masked_fill(~avail, NEG_INF).max(-1).values - util
                extra["sm_gap"] = torch.where(live, gap, 0.0).sum() / live.sum().clamp(min=1)
            else:
                util = at_greedy
            if cfg.algorithm == "res":
                z = self._res_z(mac_out.detach(), t_out, util, greedy, avail, states)
            else:
                z = t_mixer(util, states)
            if cfg.algorithm == "wqmix":
                extra["central_at_greedy"] = t_mixer(at_greedy, states)  # Q-hat*'(s, u-bar), eq. (29) CW
            z = torch.where(avail.any(-1).any(-1), z, 0.0)  # states past the episode end are padding
        return z, extra

    def _res_z(self, mac_out: torch.Tensor, t_out: torch.Tensor, t_util: torch.Tensor, greedy: torch.Tensor,
               avail: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """Spec eq. (30): softmax_beta over counterfactual joint actions c = (u-bar_{-i}, a_i)."""
        b, t1, n, a = mac_out.shape
        eye = torch.eye(n, dtype=torch.bool, device=mac_out.device).view(1, 1, n, 1, n)

        def cf_utils(out: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
            # [..., i, a, j] = out[..., i, a] if j == i else base[..., j]
            own = out.unsqueeze(-1).expand(b, t1, n, a, n)
            others = base.view(b, t1, 1, 1, n).expand(b, t1, n, a, n)
            return torch.where(eye, own, others)

        on_base = mac_out.gather(-1, greedy.unsqueeze(-1)).squeeze(-1)
        s_rep = states.view(b, t1, 1, 1, -1).expand(b, t1, n, a, states.shape[-1])
        q_on = self.nets["mixer"](cf_utils(mac_out, on_base), s_rep)  # (b, t1, n, a)
        q_tg = self.targets["mixer"](cf_utils(t_out, t_util), s_rep)
        logits = (self.cfg.res_beta * q_on).masked_fill(~avail, float("-inf")).view(b, t1, n * a)
        w = torch.softmax(logits, dim=-1).nan_to_num(0.0)  # padded steps (no available action) -> 0
        return (w * q_tg.reshape(b, t1, n * a)).sum(-1)

    # ------------------------------------------------------------------ training
    def to_tensors(self, batch: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(v, device=self.device) for k, v in batch.items()}

    def train_step(self, batch_np: Mapping[str, np.ndarray]) -> dict[str, float]:
        """One gradient step on a batch from the replay (fields of :func:`episode_fields`)."""
        cfg = self.cfg
        rewards_np = batch_np["reward"]
        if cfg.standardise_rewards:
            self.rew_ms.update(rewards_np[batch_np["filled"] > 0])
            rewards_np = (rewards_np - self.rew_ms.mean) / np.sqrt(self.rew_ms.var + 1e-8)
        batch = self.to_tensors({**batch_np, "reward": rewards_np.astype(np.float32)})
        actions = batch["actions"].long()  # (B, T, n)
        b, t_len, n = actions.shape
        filled = batch["filled"]
        terminated = batch["terminated"]
        if not cfg.time_limit_bootstrap:
            terminated = episode_end_as_terminal(terminated, filled)
        last = torch.cat([torch.full((b, 1, n), -1, dtype=torch.long, device=self.device), actions], 1)
        inputs = build_agent_inputs(batch["obs"], last, self.n_actions)  # (B, T+1, n, in)

        mac_out = self._unroll(self.nets["agent"], inputs)
        chosen = mac_out[:, :-1].gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        q_tot = self.nets["mixer"](chosen, batch["state"][:, :-1])
        z, extra = self._z_values(batch, mac_out, inputs)
        lam = self.schedule(self.train_steps)
        y = td_lambda_targets(batch["reward"], terminated, filled, z, cfg.gamma, lam).detach()
        denom = filled.sum().clamp(min=1.0)
        td = (q_tot - y) * filled
        logs: dict[str, float] = {"lambda": lam}
        # the replayed episodes' discounted Monte-Carlo returns in the same (standardised) reward units as Q_tot:
        # RES's regression target, and for every algorithm the logged behaviour value (Q_tot far above it is
        # the sign of overestimation)
        ret = self._returns_to_go(batch["reward"], filled)
        if cfg.algorithm == "wqmix":
            w = self._wqmix_weights(td, actions, extra, y)
            loss_q = (w.detach() * td**2).sum() / denom
            c_out = self._unroll(self.nets["central_agent"], inputs)
            c_chosen = c_out[:, :-1].gather(-1, actions.unsqueeze(-1)).squeeze(-1)
            c_tot = self.nets["central_mixer"](c_chosen, batch["state"][:, :-1])
            loss_c = (((c_tot - y) * filled) ** 2).sum() / denom
            loss = loss_q + loss_c
            logs.update(loss_qmix=loss_q.item(), loss_central=loss_c.item(), wqmix_weight=float(
                (w * filled).sum() / denom))
        else:
            loss = (td**2).sum() / denom
            if cfg.algorithm == "res":
                loss_r = (((q_tot - ret) * filled) ** 2).sum() / denom
                loss = loss + cfg.res_lambda * loss_r
                logs["loss_res_reg"] = loss_r.item()
        self.sparse.zero_grad()
        loss.backward()
        params = [p for m in self.nets.values() for p in m.parameters()]
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        stepped = self.sparse.step()
        self.sparse.account_train(b, t_len, update_iteration=not stepped)
        self.train_steps += 1
        logs.update(loss=loss.item(), grad_norm=float(grad_norm), q_tot=float((q_tot.detach() * filled).sum() / denom),
                    target=float((y * filled).sum() / denom), return_to_go=float((ret * filled).sum() / denom),
                    topology_update=float(not stepped))
        if "sm_gap" in extra:
            logs["sm_gap"] = float(extra["sm_gap"])
        return logs

    def _wqmix_weights(self, td: torch.Tensor, actions: torch.Tensor, extra: Mapping[str, torch.Tensor],
                       y: torch.Tensor) -> torch.Tensor:
        """Spec eq. (29): OW: 1 where Q_tot - y < 0 else alpha_w; CW: 1 where u = u-bar or
        y > Q-hat*'(s, u-bar) else alpha_w."""
        a_w = self.cfg.wqmix_alpha
        if self.cfg.wqmix_variant == "ow":
            keep = td < 0
        else:
            is_max = (actions == extra["greedy"][:, :-1]).all(-1)
            keep = is_max | (y > extra["central_at_greedy"][:, :-1])
        return torch.where(keep, torch.ones_like(td), torch.full_like(td, a_w))

    def _returns_to_go(self, rewards: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
        """G_t = r_t + gamma G_{t+1} within each replayed episode (0 past its end; no bootstrap at a time limit)."""
        g = torch.zeros_like(rewards[:, 0])
        out = torch.zeros_like(rewards)
        for t in range(rewards.shape[1] - 1, -1, -1):
            g = (rewards[:, t] + self.cfg.gamma * g) * filled[:, t]
            out[:, t] = g
        return out

    def update_targets(self) -> None:
        """Hard copy online -> target (spec §1.8: masks are shared, so the pattern follows)."""
        self.sparse.hard_update_targets()

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {k: m.state_dict() for k, m in self.nets.items()},
            "targets": {k: m.state_dict() for k, m in self.targets.items()},
            "optimizer": self.optimizer.state_dict(),
            "rew_ms": self.rew_ms.state_dict(),
            "train_steps": self.train_steps,
            "episodes_at_last_target_update": self.episodes_at_last_target_update,
        }

    def load_targets(self, targets: Mapping[str, Any]) -> None:
        with torch.no_grad():
            for k, m in self.targets.items():
                m.load_state_dict(targets[k])

    def load_state_dict(self, s: Mapping[str, Any]) -> None:
        for k, m in self.nets.items():
            m.load_state_dict(s["nets"][k])
        for k, m in self.targets.items():
            m.load_state_dict(s["targets"][k])
        self.optimizer.load_state_dict(s["optimizer"])
        self.rew_ms.load_state_dict(s["rew_ms"])
        self.train_steps = int(s["train_steps"])
        self.episodes_at_last_target_update = int(s["episodes_at_last_target_update"])
