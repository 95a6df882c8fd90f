"""TD3 (Fujimoto et al. 2018) with RLx2's multi-step targets, on dense or sparse networks (spec §2.1-2.2).

One training iteration (official RLx2 order):
  1. critic: y = R^(m) + gamma^m (1 - terminated) min_i Q'_i(s_{t+m}, clip(pi'(s_{t+m}) + eps))   (spec eq. 20),
     eps ~ clip(N(0, (0.2 a_scale)^2), +-0.5 a_scale); loss = MSE(Q1, y) + MSE(Q2, y); the critic's
     sparse trainer then steps (or, on a topology-update iteration, evolves the masks instead);
  2. every ``policy_delay`` iterations: actor loss -Q1(s, pi(s)), actor step, Polyak update of both
     targets theta' <- tau theta + (1 - tau) theta', then the targets are re-masked (spec eq. 13).
Masks are never touched here: :mod:`deeprl.rlx2.sparsity` wraps the engine.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from deeprl.rlx2.config import RLx2Config
from deeprl.rlx2.multistep import NStepBatch
from deeprl.rlx2.networks import DeterministicActor, TwinQ
from deeprl.rlx2.sparsity import make_group_trainer


def to_tensors(batch: NStepBatch, device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(getattr(batch, k), device=device)
            for k in ("obs", "action", "reward_sum", "bootstrap", "boot_obs", "inter_obs", "inter_weight")}


class TD3Agent:
    """TD3 learner: actor, twin critic, targets, optimisers and the two sparse groups "actor"/"critic"."""

    algo = "td3"

    def __init__(self, obs_dim: int, act_dim: int, low: np.ndarray, high: np.ndarray, cfg: RLx2Config,
                 device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        hidden = (cfg.hidden, cfg.hidden)
        self.actor = DeterministicActor(obs_dim, act_dim, low, high, hidden).to(device)
        ch = cfg.critic_hidden or cfg.hidden
        self.critic = TwinQ(obs_dim, act_dim, (ch, ch)).to(device)
        self.actor_target = copy.deepcopy(self.actor)
        self.critic_target = copy.deepcopy(self.critic)
        for p in (*self.actor_target.parameters(), *self.critic_target.parameters()):
            p.requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr, foreach=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr, foreach=True)
        iters = cfg.total_steps - cfg.warmup
        self.actor_trainer = make_group_trainer("actor", self.actor, self.actor_opt, cfg.actor_sparsity, cfg,
                                                group_steps=max(1, iters // cfg.policy_delay),
                                                targets=[self.actor_target])
        self.critic_trainer = make_group_trainer("critic", self.critic, self.critic_opt, cfg.critic_sparsity, cfg,
                                                 group_steps=max(1, iters), targets=[self.critic_target])
        self.scale = self.actor.scale
        self.iteration = 0

    @property
    def trainers(self) -> dict[str, Any]:
        return {"actor": self.actor_trainer, "critic": self.critic_trainer}

    @torch.no_grad()
    def mean_action(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic policy output pi(s) for a batch of observations (evaluation, a^mu, mismatch)."""
        return self.actor(torch.as_tensor(obs, dtype=torch.float32, device=self.device)).cpu().numpy()

    def explore(self, obs: np.ndarray, rng: np.random.Generator, low: np.ndarray, high: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """(behaviour action, its mean): a = clip(pi(s) + N(0, (0.1 a_scale)^2), low, high)."""
        mu = self.mean_action(obs[None])[0]
        scale = self.scale.cpu().numpy()
        a = np.clip(mu + rng.normal(0.0, self.cfg.expl_noise * scale), low, high)
        return a.astype(np.float32), mu

    def actor_updates_now(self) -> bool:
        return (self.iteration + 1) % self.cfg.policy_delay == 0

    def update(self, batch: NStepBatch) -> dict[str, float]:
        """One training iteration on an n-step minibatch; return scalars to log."""
        cfg, b = self.cfg, to_tensors(batch, self.device)
        with torch.no_grad():
            scale = self.scale
            eps = (torch.randn_like(b["action"]) * cfg.target_noise * scale).clamp(
                -cfg.noise_clip * scale, cfg.noise_clip * scale)
            low, high = self.actor.bias - scale, self.actor.bias + scale
            next_a = torch.max(torch.min(self.actor_target(b["boot_obs"]) + eps, high), low)
            tq1, tq2 = self.critic_target(b["boot_obs"], next_a)
            y = b["reward_sum"] + b["bootstrap"] * torch.min(tq1, tq2)
        q1, q2 = self.critic(b["obs"], b["action"])
        critic_loss = nn.functional.mse_loss(q1, y) + nn.functional.mse_loss(q2, y)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_trainer.step()
        out = {"loss/critic": float(critic_loss.detach()), "q/mean": float(q1.detach().mean())}
        if self.actor_updates_now():
            for p in self.critic.parameters():  # the actor loss must not leave gradients on the critic
                p.requires_grad_(False)
            actor_loss = -self.critic.q1_value(b["obs"], self.actor(b["obs"])).mean()
            for p in self.critic.parameters():
                p.requires_grad_(True)
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_trainer.step()
            self.critic_trainer.soft_update(cfg.tau)
            self.actor_trainer.soft_update(cfg.tau)
            out["loss/actor"] = float(actor_loss.detach())
        self.iteration += 1
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(), "critic_target": self.critic_target.state_dict(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_target.load_state_dict(state["actor_target"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.iteration = int(state["iteration"])
