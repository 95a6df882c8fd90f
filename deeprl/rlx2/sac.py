"""SAC (Haarnoja et al. 2018) with RLx2's multi-step targets, on dense or sparse networks (spec §2.1-2.2).

One training iteration (every environment step after warm-up):
  1. critic target, spec eq. (21), with a~ drawn from the *current* policy:
       y = sum_{k<m} gamma^k r_{t+k} - alpha sum_{k=1}^{m-1} gamma^k log pi(a~_{t+k}|s_{t+k})
           + gamma^m (1 - terminated) [min_i Q'_i(s_{t+m}, a~_{t+m}) - alpha log pi(a~_{t+m}|s_{t+m})];
     loss MSE(Q1, y) + MSE(Q2, y); critic sparse-trainer step;
  2. actor loss E[alpha log pi(a|s) - min_i Q_i(s, a)], a ~ pi reparameterised; actor step;
  3. temperature: loss -log(alpha) (log pi + H_target), H_target = -dim(A); alpha stays dense;
  4. Polyak update of the critic target, then re-mask it (spec eq. 13). SAC has no actor target.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from deeprl.rlx2.config import RLx2Config
from deeprl.rlx2.multistep import NStepBatch
from deeprl.rlx2.networks import GaussianActor, TwinQ
from deeprl.rlx2.sparsity import make_group_trainer
from deeprl.rlx2.td3 import to_tensors


class SACAgent:
    """SAC learner: Gaussian actor, twin critic + target, learned temperature; groups "actor"/"critic"."""

    algo = "sac"

    def __init__(self, obs_dim: int, act_dim: int, low: np.ndarray, high: np.ndarray, cfg: RLx2Config,
                 device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        hidden = (cfg.hidden, cfg.hidden)
        self.actor = GaussianActor(obs_dim, act_dim, low, high, hidden).to(device)
        ch = cfg.critic_hidden or cfg.hidden
        self.critic = TwinQ(obs_dim, act_dim, (ch, ch)).to(device)
        self.critic_target = copy.deepcopy(self.critic)
        for p in self.critic_target.parameters():
            p.requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha), device=device, requires_grad=True)
        self.target_entropy = -float(act_dim)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr, foreach=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr, foreach=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.lr, foreach=True)
        iters = max(1, cfg.total_steps - cfg.warmup)
        self.actor_trainer = make_group_trainer("actor", self.actor, self.actor_opt, cfg.actor_sparsity, cfg,
                                                group_steps=iters, targets=[])
        self.critic_trainer = make_group_trainer("critic", self.critic, self.critic_opt, cfg.critic_sparsity, cfg,
                                                 group_steps=iters, targets=[self.critic_target])
        self.scale = self.actor.scale
        self.iteration = 0

    @property
    def trainers(self) -> dict[str, Any]:
        return {"actor": self.actor_trainer, "critic": self.critic_trainer}

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    @torch.no_grad()
    def mean_action(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action tanh(mean) in the action box (evaluation, a^mu, mismatch)."""
        return self.actor.mean_action(torch.as_tensor(obs, dtype=torch.float32, device=self.device)).cpu().numpy()

    @torch.no_grad()
    def explore(self, obs: np.ndarray, rng: np.random.Generator, low: np.ndarray, high: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """(sampled action a ~ pi(.|s), behaviour mean tanh(mean)); sampling uses torch's RNG."""
        o = torch.as_tensor(obs[None], dtype=torch.float32, device=self.device)
        a, _ = self.actor.sample(o)
        return a[0].cpu().numpy().astype(np.float32), self.actor.mean_action(o)[0].cpu().numpy()

    def actor_updates_now(self) -> bool:
        return True

    def update(self, batch: NStepBatch) -> dict[str, float]:
        """One training iteration on an n-step minibatch; return scalars to log."""
        cfg, b = self.cfg, to_tensors(batch, self.device)
        alpha = self.alpha
        with torch.no_grad():
            next_a, next_logp = self.actor.sample(b["boot_obs"])
            tq1, tq2 = self.critic_target(b["boot_obs"], next_a)
            y = b["reward_sum"] + b["bootstrap"] * (torch.min(tq1, tq2) - alpha * next_logp)
            if b["inter_obs"].shape[1] > 0:  # entropy bonuses of the intermediate steps, eq. (21)
                B, k, d = b["inter_obs"].shape
                _, inter_logp = self.actor.sample(b["inter_obs"].reshape(B * k, d))
                y = y - alpha * (b["inter_weight"] * inter_logp.reshape(B, k)).sum(-1)
        q1, q2 = self.critic(b["obs"], b["action"])
        critic_loss = nn.functional.mse_loss(q1, y) + nn.functional.mse_loss(q2, y)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_trainer.step()

        for p in self.critic.parameters():
            p.requires_grad_(False)
        a, logp = self.actor.sample(b["obs"])
        aq1, aq2 = self.critic(b["obs"], a)
        actor_loss = (alpha * logp - torch.min(aq1, aq2)).mean()
        for p in self.critic.parameters():
            p.requires_grad_(True)
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_trainer.step()

        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()

        self.critic_trainer.soft_update(cfg.tau)
        self.iteration += 1
        return {"loss/critic": float(critic_loss.detach()), "loss/actor": float(actor_loss.detach()),
                "q/mean": float(q1.detach().mean()), "alpha": float(alpha), "entropy": float(-logp.detach().mean())}

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(), "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.iteration = int(state["iteration"])
