"""RSD4 training loop (RSD4 spec §2.1, §2.4-2.7): per-user episode replay, N iterations per episode,
dual update of lambda (eq. (17a), averaged iterate (17b) held for the final ``dual_freeze_frac``;
or lambda-conditioned training with calibration by bisection, ``dual='calibrate'``; see
:mod:`deeprl.rsd4.dual`), periodic evaluation, checkpoint/resume, summary.

Seeds: the instance comes from ``instance_seed`` (seed1); training episode e is ``reset(seed=seed *
1_000_003 + e)``; evaluation episodes use the fixed seeds ``10**9 + k`` (the same for every run and
every method, so evaluations are paired).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

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
from deeprl.common.episode_replay import EpisodeReplay, Field
from simulators.cli_util import write_json
from simulators.scheduling import SchedulingEnv, make_instance
from simulators.scheduling.optimal import optimal_full_info

from .agent import RSD4Agent
from .config import RSD4Config
from .dual import DualAscent
from .features import UserFeatures

EVAL_SEED = 10**9
"""Episode seeds of the final evaluation (``EVAL_SEED + k``), shared with the baselines in benchmarks/rsd4_cpu.py."""
VALIDATION_SEED = 2 * 10**9
"""Episode seeds of the in-training evaluations that pick the final policy (spec §2.7). Disjoint from
``EVAL_SEED`` so that the selection never sees the episodes it is finally scored on (no selection bias)."""


def build_env(cfg: RSD4Config) -> SchedulingEnv:
    inst = make_instance(cfg.instance_seed, cfg.preset, n_users=cfg.n_users, rho=cfg.rho, budget=cfg.budget,
                         horizon=cfg.horizon)
    return SchedulingEnv(inst, partial=cfg.partial, obs_noise=cfg.obs_noise)


class Trainer:
    """Holds the env, agent, replay, dual variable and counters of one run."""

    def __init__(self, cfg: RSD4Config, run_dir: str | Path) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        torch.set_num_threads(cfg.threads)
        self.rng = seed_everything(cfg.seed)
        self.env = build_env(cfg)
        self.inst = self.env.instance
        self.feat = UserFeatures(self.env, cfg.obs_scale, cfg.user_features, cfg.outcome_features)
        self.agent = RSD4Agent(self.feat.obs_dim, self.feat.act_dim, cfg)
        H, D, A = cfg.horizon, self.feat.obs_dim, self.feat.act_dim
        self.replay = EpisodeReplay(cfg.buffer_episodes, H, {
            "obs": Field((D,), np.float32, True), "act": Field((A,), np.float32),
            "prev_act": Field((A,), np.float32), "S": Field((), np.float32), "E": Field((), np.float32),
            "beta": Field((), np.float32),
        })
        lam_hi = self.inst.lam_max * (cfg.calibrate_range if cfg.dual == "calibrate" else 1.0)
        self.dual = DualAscent(self.inst.budget, lam_hi, cfg.lam0, cfg.dual_lr_frac, cfg.dual_every,
                               cfg.dual_window, mode=cfg.dual, avg_start=cfg.dual_avg_start)
        self.episode = 0
        self.steps = 0
        self.best: dict | None = None
        self.history: list[dict] = []

    # ------------------------------------------------------------------------------ episodes
    def run_episode(self, seed: int, explore: bool, lam: float, scale: float = 1.0) -> dict:
        """One episode at multiplier ``lam``; greedy episodes (``explore=False``) scale every per-packet
        energy by ``scale`` (the calibrate rule's throttle, deeprl.rsd4.dual: a -> scale (a + 1) - 1)."""
        if explore and scale != 1.0:
            raise ValueError(f"scale acts on greedy episodes only, got scale={scale} with explore=True")
        env, feat, agent, cfg = self.env, self.feat, self.agent, self.cfg
        n, H, A = env.n_users, env.horizon, feat.act_dim
        env.lam = lam
        env.reset(seed=seed)
        obs = np.zeros((n, H + 1, feat.obs_dim), np.float32)
        acts = np.zeros((n, H, A), np.float32)
        prev = np.full((n, H, A), -1.0, np.float32)  # a_{-1} = -1: zero energy (spec §2.2)
        S = np.zeros((n, H), np.float32)
        E = np.zeros((n, H), np.float32)
        state = agent.initial_state()
        a_prev = np.full((n, A), -1.0, np.float32)
        random_phase = explore and self.steps < cfg.random_steps
        for t in range(H):
            o = feat(lam)
            obs[:, t] = o
            prev[:, t] = a_prev
            a, state = agent.act(o, a_prev, state, lam=lam)
            if random_phase:
                a = self.rng.uniform(-1, 1, size=a.shape).astype(np.float32)
            elif explore:
                a = np.clip(a + self.rng.normal(0, cfg.expl_noise, size=a.shape), -1, 1).astype(np.float32)
            elif scale != 1.0:
                a = (np.float32(scale) * (a + 1) - 1).astype(np.float32)  # e = e_max (a + 1) / 2 scaled by c
            _, _, _, _, info = env.step(feat.to_env_action(a))
            acts[:, t] = a  # the executed action (spec §2.4, our choice)
            S[:, t], E[:, t] = info["S"], info["E"]
            a_prev = a
        obs[:, H] = feat(lam)
        beta = self.inst.beta
        return {"obs": obs, "act": acts, "prev_act": prev, "S": S, "E": E,
                "throughput": float((beta @ S).sum() / H), "energy": float(E.sum() / H)}

    def evaluate(self, episodes: int | None = None, base_seed: int = VALIDATION_SEED) -> dict:
        """Greedy episodes with seeds ``base_seed + k``: validation seeds during training, ``EVAL_SEED`` at the end."""
        k = self.cfg.eval_episodes if episodes is None else episodes
        res = [self.run_episode(base_seed + e, explore=False, lam=self.dual.episode_lambda(base_seed + e),
                                scale=self.dual.scale) for e in range(k)]
        tp = np.array([r["throughput"] for r in res])
        en = np.array([r["energy"] for r in res])
        return {"throughput": float(tp.mean()), "energy": float(en.mean()),
                "throughput_se": float(tp.std(ddof=1) / np.sqrt(k)) if k > 1 else float("nan")}

    def calibrate(self, episodes: int | None = None) -> dict:
        """``dual='calibrate'``: set lambda by bisection on greedy validation episodes (deeprl.rsd4.dual).

        Every lambda tried is scored on the same episodes (seeds ``VALIDATION_SEED + k``), so E(lambda)
        is a deterministic function of lambda for the current weights. The energy held to the budget is
        the upper confidence bound mean + ``calibrate_margin`` x SE over those episodes (config; 0 = mean).
        With ``calibrate_throttle`` a lambda_max that overspends is followed by the bisection on the energy
        scale (:meth:`DualAscent.throttle`) on the same episodes and the same bound.
        """
        k = self.cfg.eval_episodes if episodes is None else episodes
        margin = self.cfg.calibrate_margin

        def measure(lam: float, scale: float = 1.0) -> tuple[float, float]:
            res = [self.run_episode(VALIDATION_SEED + e, explore=False, lam=lam, scale=scale) for e in range(k)]
            en = np.array([r["energy"] for r in res])
            se = float(en.std(ddof=1) / np.sqrt(k)) if k > 1 else 0.0
            return float(en.mean()) + margin * se, float(np.mean([r["throughput"] for r in res]))

        if self.cfg.calibrate_search == "grid":
            return self.dual.calibrate_grid(measure)
        throttle = (lambda lam, c: measure(lam, c)[0]) if self.cfg.calibrate_throttle else None
        return self.dual.calibrate(lambda lam: measure(lam)[0], mix=self.cfg.calibrate_mix, throttle=throttle)

    def sample_batch(self) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        b = self.replay.sample(cfg.batch_size, self.rng)
        obs = b["obs"].copy()
        lam = self.dual.training_lambda(self.rng, obs.shape[0])[:, None]  # calibrate: lambda_j per sequence
        if self.feat.lam_index is not None:
            obs[..., self.feat.lam_index] = lam / self.feat.lam_max  # current lambda (spec §2.6)
        reward = b["beta"] * b["S"] - lam * b["E"]  # eq. (8) recomputed at sampling time
        terminal = np.zeros_like(reward)
        if cfg.gamma >= 1.0:
            terminal[:, -1] = 1.0  # the code's terminal step at t = H (preset 'code')
        t = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float32))  # noqa: E731
        out = {"obs": obs, "act": b["act"], "prev_act": b["prev_act"], "reward": reward,
               "terminal": terminal, "filled": b["filled"]}
        if cfg.split_critic:  # the two reward components and each sequence's lambda (deeprl.rsd4.agent)
            out["reward_parts"] = np.stack([b["beta"] * b["S"], b["E"]], -1)
            out["lam"] = lam[:, 0]
        if cfg.bptt_window:
            out = self._windows(out)
        return {k: t(v) for k, v in out.items()}

    def _windows(self, full: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Truncated BPTT (spec §2.6): one window of L steps per sequence, after a burn-in prefix.

        Window starts s are uniform on {0} U [burn, H - L]; a window at s = 0 starts from the true zero
        state (no prefix), the others get the ``burn`` steps before s as a no-gradient burn-in.
        """
        cfg = self.cfg
        L, burn = cfg.bptt_window, cfg.burn_in
        H = full["act"].shape[1]
        choices = np.unique(np.r_[0, np.arange(burn, H - L + 1)])
        starts = choices[self.rng.integers(0, choices.size, size=full["act"].shape[0])]
        rows = np.arange(starts.size)[:, None]
        win = starts[:, None] + np.arange(L)[None, :]
        out = {k: full[k][rows, win] for k in ("act", "prev_act", "reward", "terminal", "filled", "reward_parts")
               if k in full}
        if "lam" in full:
            out["lam"] = full["lam"]
        out["obs"] = full["obs"][rows, starts[:, None] + np.arange(L + 1)[None, :]]
        if burn:
            pre = np.maximum(starts[:, None] - burn, 0) + np.arange(burn)[None, :]
            out["pre_obs"] = full["obs"][rows, pre]
            out["pre_prev"] = full["prev_act"][rows, pre]
            out["has_prefix"] = (starts >= burn).astype(np.float32)
        return out

    # ------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {"cfg": self.cfg.to_dict(), "agent": self.agent.state_dict(), "replay": self.replay.state_dict(),
                "dual": self.dual.state_dict(), "episode": self.episode, "steps": self.steps,
                "best": self.best, "history": self.history, "rng": get_rng_state(self.rng)}

    def load_state_dict(self, s: dict) -> None:
        self.agent.load_state_dict(s["agent"])
        self.replay.load_state_dict(s["replay"])
        self.dual.load_state_dict(s["dual"])
        self.episode, self.steps = int(s["episode"]), int(s["steps"])
        self.best, self.history = s["best"], s["history"]
        set_rng_state(s["rng"], self.rng)

    # ------------------------------------------------------------------------------ main loop
    def train(self, stop_after: int | None = None, progress: bool = True) -> dict | None:
        cfg, env = self.cfg, self.env
        logger = RunLogger(self.run_dir, resume_step=self.episode if self.episode else None)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.episodes, initial=self.episode, desc=f"{cfg.variant}", unit="ep")
        freeze_at = int(round((1 - cfg.dual_freeze_frac) * cfg.episodes))
        select_from = int(round(0.8 * cfg.episodes))
        t0 = time.time()
        try:
            while self.episode < cfg.episodes:
                ep = self.episode
                if ep >= freeze_at:
                    self.dual.freeze()  # lambda_bar of eq. (17b) for the final dual_freeze_frac (spec §2.7)
                lam = self.dual.training_lambda(self.rng)
                data = self.run_episode(cfg.seed * 1_000_003 + ep, explore=True, lam=lam)
                for i in range(env.n_users):
                    self.replay.add({"obs": data["obs"][i], "act": data["act"][i], "prev_act": data["prev_act"][i],
                                     "S": data["S"][i], "E": data["E"][i],
                                     "beta": np.full(cfg.horizon, self.inst.beta[i], np.float32)})
                self.steps += cfg.horizon
                stats: dict[str, float] = {}
                learning = len(self.replay) > cfg.batch_size and self.steps > cfg.random_steps
                if learning:
                    for _ in range(env.n_users):
                        st = self.agent.update([self.sample_batch(), self.sample_batch()])
                        for k, v in st.items():
                            stats[k] = stats.get(k, 0.0) + v / env.n_users
                self.dual.observe(data["energy"], active=learning)
                self.episode += 1
                row = {"train/throughput": data["throughput"], "train/energy": data["energy"],
                       # calibrate: this episode's behaviour lambda; otherwise lambda after the dual step
                       "lambda": lam if cfg.dual == "calibrate" else self.dual.lam,
                       **{f"loss/{k}": v for k, v in stats.items()}}
                if self.episode % cfg.eval_every == 0 or self.episode == cfg.episodes:
                    if cfg.dual == "calibrate" and self.episode >= select_from:
                        self.calibrate()  # only where the evaluation can select (earlier: last lambda)
                    ev = self.evaluate()
                    row.update({"eval/throughput": ev["throughput"], "eval/energy": ev["energy"]})
                    rec = {"episode": self.episode, "lam": self.dual.lam, "mix": self.dual.mix,
                           "scale": self.dual.scale, **ev}
                    self.history.append(rec)
                    ok = ev["energy"] <= 1.02 * self.inst.budget
                    if self.episode >= select_from and ok and (self.best is None
                                                                or ev["throughput"] > self.best["throughput"]):
                        # a deep copy: state_dict() shares storage with the live weights, which keep training
                        self.best = {**rec, "agent": copy.deepcopy(self.agent.state_dict())}
                logger.log(self.episode, row)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(lam=f"{self.dual.lam:.3f}", tp=f"{data['throughput']:.2f}",
                                    e=f"{data['energy']:.2f}")
                if self.episode % cfg.checkpoint_every == 0 or self.episode == cfg.episodes:
                    save_checkpoint(self.run_dir, self.episode, self.state_dict())
                if stop_after is not None and self.episode >= stop_after and self.episode < cfg.episodes:
                    save_checkpoint(self.run_dir, self.episode, self.state_dict())
                    return None
        finally:
            logger.close()
            if bar is not None:
                bar.close()
        return self.finish(time.time() - t0)

    def finish(self, seconds: float) -> dict:
        """Final policy (spec §2.7): best evaluation in the last 20% within 1.02 E_b, else the last one.

        The chosen weights are scored at the lambda they were validated at (with ``dual='ascent'`` that can
        differ from the final frozen lambda; ``'calibrate'`` then re-calibrates them on 20 validation episodes).

        The selection uses validation episodes (``VALIDATION_SEED``); the reported numbers come from
        ``max(eval_episodes, final_eval_episodes)`` fresh episodes (``EVAL_SEED + k``), the same ones the
        baselines are scored on.
        """
        cfg, inst = self.cfg, self.inst
        chosen = "last"
        if self.best is not None:
            self.agent.load_state_dict(self.best["agent"])
            self.dual.lam = float(self.best["lam"])  # the lambda (input g(t)) those weights were validated at
            self.dual.mix = self.best.get("mix")
            self.dual.scale = float(self.best.get("scale", 1.0))
            chosen = f"best of last 20% (episode {self.best['episode']})"
        if cfg.dual == "calibrate":  # re-calibrate the chosen weights on more validation episodes
            self.calibrate(max(cfg.eval_episodes, 20))
        ev = self.evaluate(max(cfg.eval_episodes, cfg.final_eval_episodes), base_seed=EVAL_SEED)
        full = optimal_full_info(inst)
        summary = {
            "variant": cfg.variant, "partial": cfg.partial, "seed": cfg.seed, "episodes": self.episode,
            "instance": inst.describe(), "policy": chosen, "lambda": self.dual.lam,
            "lambda_mix": None if self.dual.mix is None else list(self.dual.mix),
            "energy_scale": self.dual.scale,
            "throughput": ev["throughput"], "throughput_se": ev["throughput_se"],
            "energy_per_slot": ev["energy"], "budget": inst.budget,
            "constraint_satisfied": bool(ev["energy"] <= inst.budget),
            "within_5pct_of_budget": bool(ev["energy"] <= 1.05 * inst.budget),
            "v_full": full.throughput, "ratio_to_v_full": ev["throughput"] / full.throughput,
            "seconds": seconds,
        }
        write_json(self.run_dir / "summary.json", summary)
        return summary


def train(cfg: RSD4Config, run_dir: str | Path, stop_after: int | None = None, progress: bool = True
          ) -> dict | None:
    """Start a new run in ``run_dir`` (config.json written first)."""
    tr = Trainer(cfg, run_dir)
    write_json(Path(run_dir) / "config.json", cfg.to_dict())
    return tr.train(stop_after=stop_after, progress=progress)


def resume(run_dir: str | Path, stop_after: int | None = None, progress: bool = True) -> dict | None:
    """Continue the run in ``run_dir`` from its latest checkpoint (same config, RNG states, replay, lambda)."""
    ck = latest_checkpoint(run_dir)
    if ck is None:
        raise FileNotFoundError(f"no checkpoint under {run_dir}/checkpoints to resume from")
    state = load_checkpoint(ck)
    cfg = RSD4Config(**state["cfg"])
    tr = Trainer(cfg, run_dir)
    tr.load_state_dict(state)
    return tr.train(stop_after=stop_after, progress=progress)


def read_summary(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())
