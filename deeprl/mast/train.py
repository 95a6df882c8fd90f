"""The MAST / QMIX-family training loop: collect, store, train, evaluate, log, checkpoint, resume.

Cadence (PyMARL-style, made exact in environment steps): after every finished episode the loop runs
as many gradient steps as ``t_env // episode_limit`` asks for (one per full-length episode; short
episodes accumulate), so the number of optimizer steps of a run is known in advance
(``steps // episode_limit``) and the engine's schedules (RigL T_end, the hybrid T_0) are fractions of it.
Targets are hard-copied every ``target_update_episodes`` episodes. Greedy evaluation every
``eval_interval`` steps on seeds disjoint from training; checkpoints every ``checkpoint_interval``
steps at episode boundaries (everything: networks, targets, optimizer, engine state under ``"sparse"``,
replay, reward statistics, RNGs, counters, evaluation history), so a resumed run equals an
uninterrupted one. Outputs: ``metrics.csv`` + TensorBoard (``deeprl.common.RunLogger``),
``checkpoints/``, ``config.json``, ``summary.json``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

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
from deeprl.mast.config import MastConfig
from deeprl.mast.dual_buffer import DualEpisodeReplay
from deeprl.mast.input_scaling import scale_inputs
from deeprl.mast.learner import QLearner
from deeprl.mast.runner import episode_fields, episode_seed, evaluate, linear_epsilon, run_episode
from simulators.cli_util import write_json
from simulators.marl import make_marl_env


class _Crossing:
    """Fires once each time a counter passes a multiple of ``interval``."""

    def __init__(self, interval: int, last: int = 0) -> None:
        self.interval, self.last = interval, last

    def __call__(self, value: int) -> bool:
        if value // self.interval > self.last // self.interval:
            self.last = value
            return True
        return False


def train(cfg: MastConfig, run_dir: str | Path, resume: bool = False, stop_after: int | None = None,
          progress: bool = True, tensorboard: bool = True, command: str = "") -> dict[str, Any]:
    """Train ``cfg`` into ``run_dir`` (or resume the newest checkpoint there). Returns the summary dict
    (also written to ``summary.json``; a run stopped early by ``stop_after`` writes no summary)."""
    run_dir = Path(run_dir)
    ckpt = None
    if resume:
        path = latest_checkpoint(run_dir)
        if path is None:
            raise FileNotFoundError(f"no checkpoint to resume under {run_dir}/checkpoints")
        ckpt = load_checkpoint(path)
        cfg = MastConfig.from_dict(ckpt["config"])
    np_rng = seed_everything(cfg.seed)
    env = scale_inputs(make_marl_env(cfg.task), cfg.input_scale)
    eval_env = scale_inputs(make_marl_env(cfg.task), cfg.input_scale)
    info = env.env_info()
    limit = int(info["episode_limit"])
    total_train = max(1, cfg.steps // limit)
    learner = QLearner(cfg, info, total_train)
    buffer = DualEpisodeReplay(cfg.buffer_size, cfg.capacity_on if cfg.dual_buffer else 1,
                               cfg.rho if cfg.dual_buffer else 0.0, limit, episode_fields(info))
    st: dict[str, Any] = {"t_env": 0, "episodes": 0, "due_skipped": 0, "evals": [], "wall": 0.0,
                          "env_time": 0.0, "train_time": 0.0, "random_eval": None}
    if ckpt is None:
        write_json(run_dir / "config.json", {**cfg.to_dict(), "command": command})
        st["random_eval"] = evaluate(eval_env, None, cfg.seed, cfg.eval_episodes, stream=2)
    else:
        learner.load_state_dict(ckpt["learner"])
        learner.sparse.load_state_dict(ckpt["sparse"] if "sparse" in ckpt else ckpt["flops"])
        # the engine re-masks targets on load (I4); a hard-copied QMIX target keeps the pattern of its last
        # copy until the next one (spec §1.8), so put the saved target weights back exactly
        learner.load_targets(ckpt["learner"]["targets"])
        buffer.load_state_dict(ckpt["buffer"])
        st = ckpt["loop"]
        set_rng_state(ckpt["rng"], np_rng)
    logger = RunLogger(run_dir, tensorboard=tensorboard, resume_step=st["t_env"] if ckpt else None)
    eval_due = _Crossing(cfg.eval_interval, st["t_env"])
    ckpt_due = _Crossing(cfg.checkpoint_interval, st["t_env"])
    log_due = _Crossing(cfg.log_interval, st["t_env"])
    acc: dict[str, list[float]] = defaultdict(list)  # scalars since the last log row (checkpointed)
    if ckpt is not None:
        acc.update(ckpt.get("pending_logs", {}))

    def eps(t: int) -> float:
        return linear_epsilon(t, cfg.eps_start, cfg.eps_end, cfg.eps_anneal_steps)

    def do_eval() -> None:
        ev = evaluate(eval_env, learner, cfg.seed, cfg.eval_episodes)
        st["evals"].append({"t_env": st["t_env"], **ev})
        logger.log(st["t_env"], {f"eval/{k}": v for k, v in ev.items()})

    def checkpoint() -> None:
        state = {"config": cfg.to_dict(), "learner": learner.state_dict(), "buffer": buffer.state_dict(),
                 "loop": st, "rng": get_rng_state(np_rng), "pending_logs": dict(acc)}
        state["sparse" if learner.sparse.trainer is not None else "flops"] = learner.sparse.state_dict()
        save_checkpoint(run_dir, st["t_env"], state)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=st["t_env"], unit="step", dynamic_ncols=True,
                   desc=f"{cfg.algorithm}/{cfg.task}/{cfg.method_label}")
    if ckpt is None and st["t_env"] == 0:
        do_eval()
    t_start = time.perf_counter()
    wall0 = st["wall"]
    stopped_early = False
    while st["t_env"] < cfg.steps:
        t0 = time.perf_counter()
        ep, es = run_episode(env, learner, episode_seed(cfg.seed, 0, st["episodes"]), np_rng, eps, st["t_env"])
        assert ep is not None
        st["env_time"] += time.perf_counter() - t0
        buffer.add(ep)
        st["t_env"] += es.length
        st["episodes"] += 1
        learner.sparse.account_act(es.length)
        acc["train/return"].append(es.ret)
        acc["train/length"].append(es.length)
        if es.success is not None:
            acc["train/success"].append(es.success)
        # gradient steps owed by the env-step cadence
        due = min(st["t_env"], cfg.steps) // limit
        t1 = time.perf_counter()
        while learner.train_steps + st["due_skipped"] < due:
            if len(buffer) < cfg.batch_size:
                st["due_skipped"] += 1
                continue
            batch, from_on = buffer.sample(cfg.batch_size, np_rng)
            logs = learner.train_step(batch)
            logs["dual/on_fraction"] = float(from_on.mean())
            for k, v in logs.items():
                acc[f"train/{k}"].append(v)
        st["train_time"] += time.perf_counter() - t1
        if st["episodes"] - learner.episodes_at_last_target_update >= cfg.target_update_episodes:
            learner.update_targets()
            learner.episodes_at_last_target_update = st["episodes"]
        if bar is not None:
            bar.update(es.length)
        if log_due(st["t_env"]):
            row = {k: float(np.mean(v)) for k, v in acc.items()}
            row["train/epsilon"] = eps(st["t_env"])
            row["train/episodes"] = st["episodes"]
            row.update({f"sparse/{k}": v for k, v in learner.sparse.ratios().items()})
            logger.log(st["t_env"], row)
            acc.clear()
            if bar is not None and st["evals"]:
                bar.set_postfix(ret=f"{st['evals'][-1]['return']:.3g}")
        if eval_due(st["t_env"]):
            do_eval()
        st["wall"] = wall0 + time.perf_counter() - t_start
        if ckpt_due(st["t_env"]) or st["t_env"] >= cfg.steps:
            checkpoint()
        if stop_after is not None and st["t_env"] >= stop_after and st["t_env"] < cfg.steps:
            checkpoint()
            stopped_early = True
            break
    if bar is not None:
        bar.close()
    if stopped_early:
        logger.close()
        return {"stopped_at": st["t_env"]}
    if not st["evals"] or st["evals"][-1]["t_env"] != st["t_env"]:
        do_eval()
    logger.close()
    summary = make_summary(cfg, learner, st, command)
    write_json(run_dir / "summary.json", summary)
    return summary


def make_summary(cfg: MastConfig, learner: QLearner, st: dict[str, Any], command: str) -> dict[str, Any]:
    evals = st["evals"]
    last = evals[-cfg.score_last_k:]
    score = float(np.mean([e["return"] for e in last]))
    out: dict[str, Any] = {
        "command": command, "config": cfg.to_dict(),
        "env_steps": st["t_env"], "episodes": st["episodes"], "train_steps": learner.train_steps,
        "score": score, "score_last_k": len(last), "final_eval": evals[-1],
        "random_eval": st["random_eval"], "evals": evals,
        "wall_seconds": st["wall"],
        "env_steps_per_s": st["t_env"] / st["env_time"] if st["env_time"] else None,
        "train_steps_per_s": learner.train_steps / st["train_time"] if st["train_time"] else None,
        "torch_threads": torch.get_num_threads(),
    }
    if "success_rate" in evals[-1]:
        out["success_rate"] = float(np.mean([e["success_rate"] for e in last]))
    out.update(learner.sparse.ratios())
    out["flops"] = learner.sparse.flops_summary()
    return out
