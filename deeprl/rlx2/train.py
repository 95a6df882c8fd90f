"""The RLx2 training loop: environment interaction, updates, evaluation, logs, checkpoint/resume, summary.

Everything that makes a resumed run equal an uninterrupted one lives here:
- all randomness is drawn from the seeded NumPy Generator (minibatches, exploration noise, warm-up
  actions, the seed of every training-episode reset) and torch's global RNG (init, target noise, SAC
  sampling), plus the sparse engine's own RNG; all of them are checkpointed;
- checkpoints are written at episode boundaries (after the last transition and its update, before the
  next reset), so no simulator state needs saving; the next reset's seed comes from the restored RNG;
- evaluation uses a separate environment, deterministic actions and fixed seeds disjoint from training.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from deeprl.common import (
    RunLogger,
    get_rng_state,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from deeprl.rlx2.buffer import DynamicReplayBuffer
from deeprl.rlx2.config import RLx2Config
from deeprl.rlx2.flops import ActorCriticFlops
from deeprl.rlx2.multistep import NStepSchedule, nstep_batch
from deeprl.rlx2.sac import SACAgent
from deeprl.rlx2.td3 import TD3Agent
from simulators.cli_util import write_json

EVAL_SEED_BASE = 2**31  # training resets draw seeds in [0, 2**31): evaluation seeds never collide


def make_env(env_id: str) -> gym.Env:
    """``gym.make(env_id)``; the id must exist and have a bounded 1-D Box action and observation space."""
    try:
        env = gym.make(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"--env {env_id!r} is not a usable gymnasium environment id ({exc})") from None
    a, o = env.action_space, env.observation_space
    if not isinstance(a, gym.spaces.Box) or len(a.shape) != 1:
        env.close()
        raise ValueError(f"--env {env_id} must have a continuous (1-D Box) action space, got {a}")
    if not isinstance(o, gym.spaces.Box) or len(o.shape) != 1:
        env.close()
        raise ValueError(f"--env {env_id} must have a flat Box observation space, got {o}")
    return env


def evaluate(agent: Any, env: gym.Env, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` deterministic-policy episodes on fixed seeds (seed-dependent, disjoint)."""
    out = []
    for j in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED_BASE + 1000 * seed + j)
        ret, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(agent.mean_action(np.asarray(obs, dtype=np.float32)[None])[0])
            ret += float(r)
            done = term or trunc
        out.append(ret)
    return np.asarray(out)


class Run:
    """One training run of RLx2 (or a baseline) in ``run_dir``; :meth:`train` runs or resumes it."""

    def __init__(self, cfg: RLx2Config, run_dir: str | Path) -> None:
        self.cfg = cfg.resolve()
        self.run_dir = Path(run_dir)
        torch.set_num_threads(self.cfg.threads)
        self.device = torch.device(self.cfg.device)
        self.rng = seed_everything(self.cfg.seed)
        self.env = make_env(self.cfg.env)
        self.eval_env = make_env(self.cfg.env)
        space = self.env.action_space
        self.low = space.low.astype(np.float32)
        self.high = space.high.astype(np.float32)
        obs_dim, act_dim = self.env.observation_space.shape[0], space.shape[0]
        agent_cls = TD3Agent if self.cfg.algo == "td3" else SACAgent
        self.agent = agent_cls(obs_dim, act_dim, self.low, self.high, self.cfg, self.device)
        c = self.cfg
        self.buffer = DynamicReplayBuffer(
            obs_dim, act_dim, (self.high - self.low) / 2, c.buffer_max, c.buffer_min, c.buffer_shrink,
            c.buffer_distance, c.buffer_threshold, c.buffer_check_interval, c.buffer_check_size)
        self.nstep = NStepSchedule(c.multistep, c.n_step, c.t_switch, c.delta_switch)
        self.flops = ActorCriticFlops(c.algo, c.batch_size, c.policy_delay)
        self.prev_actor: dict[str, torch.Tensor] | None = None  # snapshot for eq. (23)
        self.step = 0
        self.episodes = 0
        self.evals: list[tuple[int, float, float]] = []  # (step, mean, std)
        self.wall = 0.0
        self.cpu = 0.0  # process CPU seconds (a load-independent speed measure on a shared machine)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.cfg.to_dict(),
            "step": self.step, "episodes": self.episodes, "evals": list(self.evals), "wall": self.wall,
            "cpu": self.cpu,
            "agent": self.agent.state_dict(),
            # the engine's states under "sparse" (read by `python -m deeprl inspect`), dense groups apart
            "sparse": {name: tr.state_dict() for name, tr in self.agent.trainers.items() if tr.sparse},
            "dense_groups": {name: tr.state_dict() for name, tr in self.agent.trainers.items() if not tr.sparse},
            "replay": self.buffer.state_dict(),
            "nstep": self.nstep.state_dict(),
            "flops": self.flops.state_dict(),
            "prev_actor": self.prev_actor,
            "rng": get_rng_state(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.agent.load_state_dict(state["agent"])
        for name, tr in self.agent.trainers.items():
            tr.load_state_dict(state["sparse" if tr.sparse else "dense_groups"][name])
        self.buffer.load_state_dict(state["replay"])
        self.nstep.load_state_dict(state["nstep"])
        self.flops.load_state_dict(state["flops"])
        self.prev_actor = state["prev_actor"]
        self.step, self.episodes = int(state["step"]), int(state["episodes"])
        self.evals = [tuple(e) for e in state["evals"]]
        self.wall = float(state["wall"])
        self.cpu = float(state.get("cpu", 0.0))
        set_rng_state(state["rng"], self.rng)

    # ---------------------------------------------------------------- pieces
    def _forward_flops(self) -> tuple[dict[str, float], dict[str, float]]:
        tr = self.agent.trainers
        return ({k: t.forward_flops(dense=False) for k, t in tr.items()},
                {k: t.forward_flops(dense=True) for k, t in tr.items()})

    def _policy_change(self) -> float | None:
        """D_pi of spec eq. (23): the actor now vs its snapshot at the previous check, on the newest K states."""
        actor = self.agent.actor
        d = None
        if self.prev_actor is not None:
            obs = self.buffer.data.get(self.buffer.data.newest(self.cfg.buffer_check_size), ["obs"])["obs"]
            now = self.agent.mean_action(obs)
            with torch.no_grad():  # forward() of both actor classes is the deterministic action
                o = torch.as_tensor(obs, device=self.device)
                prev = torch.func.functional_call(actor, self.prev_actor, (o,)).cpu().numpy()
            scale = (self.high - self.low) / 2
            d = float(0.5 * np.mean(((now - prev) / scale) ** 2))
        self.prev_actor = {k: v.detach().clone() for k, v in actor.state_dict().items()}
        return d

    def summary(self) -> dict[str, Any]:
        f, fd = self._forward_flops()
        k = self.cfg.score_last_evals
        last = [e[1] for e in self.evals[-k:]]
        tr = self.agent.trainers
        dens = {name: t.density() for name, t in tr.items()}
        sizes = {name: t.forward_flops(dense=False) / t.forward_flops(dense=True) for name, t in tr.items()}
        n_targets = {"actor": 1 if self.cfg.algo == "td3" else 0, "critic": 1}
        size_num = sum(fv * (1 + n_targets[n]) for n, fv in f.items())
        size_den = sum(fv * (1 + n_targets[n]) for n, fv in fd.items())
        return {
            "algo": self.cfg.algo, "env": self.cfg.env, "seed": self.cfg.seed, "steps": self.step,
            "score": float(np.mean(last)) if last else float("nan"),
            "score_definition": f"mean of the last {k} evaluations ({self.cfg.eval_episodes} episodes each)",
            "final_eval_return": self.evals[-1][1] if self.evals else float("nan"),
            "actor_sparsity": 1.0 - dens["actor"], "critic_sparsity": 1.0 - dens["critic"],
            "actor_density": dens["actor"], "critic_density": dens["critic"],
            "weight_ratio": sizes,
            "layer_densities": {n: t.trainer.layer_densities() for n, t in tr.items() if t.sparse},
            "train_flops_ratio": self.flops.train_ratio,
            "inference_flops_ratio": f["actor"] / fd["actor"],
            "total_size_ratio": size_num / size_den,
            "train_flops_sparse": self.flops.sparse_total, "train_flops_dense": self.flops.dense_total,
            "forward_flops": f, "forward_flops_dense": fd,
            "buffer_size": len(self.buffer), "n_step_final": self.nstep.n(self.agent.iteration),
            "wall_seconds": self.wall, "steps_per_second": self.step / self.wall if self.wall > 0 else float("nan"),
            "cpu_seconds": self.cpu,
            "steps_per_cpu_second": self.step / self.cpu if self.cpu > 0 else float("nan"),
            "evaluations": [{"step": s, "mean": m, "std": sd} for s, m, sd in self.evals],
            "config": self.cfg.to_dict(),
        }

    # ---------------------------------------------------------------- loop
    def train(self, stop_after: int | None = None) -> dict[str, Any] | None:
        """Run (or continue) to ``total_steps``; with ``stop_after``, stop at the first episode boundary at or
        after that many steps, leaving a checkpoint (an "interruption"), and return None."""
        from tqdm import tqdm

        c = self.cfg
        resume_step = self.step if self.step > 0 else None
        logger = RunLogger(self.run_dir, tensorboard=True, resume_step=resume_step)
        next_ckpt = (self.step // c.checkpoint_interval + 1) * c.checkpoint_interval
        f, fd = self._forward_flops()
        bar = tqdm(total=c.total_steps, initial=self.step, disable=not c.progress, unit="step",
                   desc=f"{c.algo}:{c.env}", dynamic_ncols=True, mininterval=1.0)
        obs = self._reset()
        ep_ret, ep_len = 0.0, 0
        last_logs: dict[str, float] = {}
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        interrupted = False
        try:
            while self.step < c.total_steps:
                if self.step < c.warmup:
                    action = self.rng.uniform(self.low, self.high).astype(np.float32)
                    mean = action
                else:
                    action, mean = self.agent.explore(obs, self.rng, self.low, self.high)
                    self.flops.act(f["actor"], fd["actor"])
                next_obs, r, term, trunc, _ = self.env.step(action)
                next_obs = np.asarray(next_obs, dtype=np.float32)
                self.buffer.add(obs, action, float(r), next_obs, bool(term), bool(trunc), mean)
                obs = next_obs
                ep_ret += float(r)
                ep_len += 1
                self.step += 1
                if self.step % c.buffer_check_interval == 0:
                    info = self._buffer_check()
                    logger.log(self.step, info)
                if self.step > c.warmup:
                    last_logs = self._train_iteration(f, fd)
                    if last_logs.pop("_topology", 0.0):
                        f, fd = self._forward_flops()
                if self.step % c.eval_interval == 0:
                    rets = evaluate(self.agent, self.eval_env, c.eval_episodes, c.seed)
                    self.evals.append((self.step, float(rets.mean()), float(rets.std())))
                    logger.log(self.step, {"eval/return": rets.mean(), "eval/return_std": rets.std()})
                if self.step % c.log_interval == 0:
                    logger.log(self.step, {**last_logs, **self._density_logs(),
                                           "flops/train_ratio": self.flops.train_ratio,
                                           "buffer/size": float(len(self.buffer)),
                                           "nstep": float(self.nstep.n(self.agent.iteration))})
                    d = self._density_logs()
                    bar.set_postfix(ret=f"{self.evals[-1][1]:.1f}" if self.evals else "-",
                                    d_actor=f"{d['density/actor']:.3f}", d_critic=f"{d['density/critic']:.3f}")
                bar.update(1)
                if term or trunc:
                    self.episodes += 1
                    logger.log(self.step, {"train/episode_return": ep_ret, "train/episode_length": ep_len})
                    ep_ret, ep_len = 0.0, 0
                    stop = stop_after is not None and self.step >= stop_after
                    if self.step >= next_ckpt or stop:
                        self._checkpoint()
                        next_ckpt = (self.step // c.checkpoint_interval + 1) * c.checkpoint_interval
                    if stop:
                        interrupted = True
                        break
                    obs = self._reset()
        finally:
            bar.close()
            logger.close()
        if interrupted:
            return None
        self._checkpoint()
        summary = self.summary()
        write_json(self.run_dir / "summary.json", summary)
        return summary

    def _reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=int(self.rng.integers(0, 2**31)))
        return np.asarray(obs, dtype=np.float32)

    def _checkpoint(self) -> None:
        self.wall += time.perf_counter() - self._t0  # training time so far (excludes checkpoint writing)
        self.cpu += time.process_time() - self._c0
        save_checkpoint(self.run_dir, self.step, self.state_dict())
        self._t0, self._c0 = time.perf_counter(), time.process_time()

    def _density_logs(self) -> dict[str, float]:
        return {f"density/{n}": t.density() for n, t in self.agent.trainers.items()}

    def _buffer_check(self) -> dict[str, float]:
        info = self.buffer.check(self.agent.mean_action)
        if self.nstep.mode == "adaptive":
            d = self._policy_change()
            if d is not None:
                info["nstep/policy_change"] = d
                self.nstep.observe_policy_change(self.agent.iteration, d)
        return info

    def _train_iteration(self, f: dict[str, float], fd: dict[str, float]) -> dict[str, float]:
        c, agent = self.cfg, self.agent
        n = self.nstep.n(agent.iteration)
        actor_update = agent.actor_updates_now()
        topo_a = actor_update and agent.actor_trainer.topology_update_now()
        topo_c = agent.critic_trainer.topology_update_now()
        idx = self.buffer.data.sample_indices(c.batch_size, self.rng)
        batch = nstep_batch(self.buffer.data, idx, n, c.gamma, with_inter=c.algo == "sac")
        hist = {k: len(t.trainer.history) for k, t in agent.trainers.items() if t.sparse}
        logs = agent.update(batch)
        for k, h in hist.items():
            tr = agent.trainers[k].trainer
            if len(tr.history) > h:  # a topology update happened in this iteration: log it
                u = tr.history[-1]
                logs.update({f"topology/{k}/zeta": u["zeta"], f"topology/{k}/churn": u["churn"],
                             f"topology/{k}/n_grown": float(u["n_grown"])})
        self.flops.iteration(f, fd, n, {"actor": topo_a, "critic": topo_c})
        logs["_topology"] = float(topo_a or topo_c)
        return logs


def open_run(run_dir: str | Path) -> Run:
    """Rebuild a run from ``run_dir/config.json`` and its latest checkpoint (for ``--resume``)."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"--resume {run_dir}: no config.json (not an RLx2 run folder)")
    cfg = RLx2Config.from_dict(json.loads(cfg_path.read_text())["config"])
    run = Run(cfg, run_dir)
    ck = latest_checkpoint(run_dir)
    if ck is not None:
        run.load_state_dict(load_checkpoint(ck, map_location=run.device))
    return run


def start_run(cfg: RLx2Config, run_dir: str | Path, command: str = "") -> Run:
    """Create a new run in (empty) ``run_dir``: writes config.json, returns the :class:`Run`."""
    run = Run(cfg, run_dir)
    write_json(Path(run_dir) / "config.json", {"config": cfg.to_dict(), "resolved": run.cfg.to_dict(),
                                                "command": command})
    return run


__all__ = ["Run", "evaluate", "make_env", "open_run", "start_run"]
