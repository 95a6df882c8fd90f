"""One run: one algorithm, one seed, one setting -> its exact per-episode regret (spec §6).

The regret of episode k is computed from the model by dynamic programming (spec eq. (4), via
``simulators.dp.regret``), never from sampled returns (spec §1 "Why exact regret"); with ``alpha < 1``
it is the exact iterated-CVaR regret (spec eq. (20)). Agent wall time (``policy`` + ``observe`` only,
spec §6) is recorded per episode.

Seeds (spec §6: separate environment and agent seeds): ``seed`` is split with
``numpy.random.SeedSequence(seed).spawn(3)`` into the environment seed (instance construction, e.g. the
signs of the hard instance), the agent seed (tie-break priority) and the rollout seed (transitions).
The same ``RunConfig`` gives the same numbers, bit for bit.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from provable.agents import ALGORITHMS, build_agent
from simulators import dp, make_instance, rollout

__all__ = ["RunConfig", "run_one", "split_seed", "agent_accepts"]


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs. ``params`` are the instance parameters (e.g. d, H, K for "hard").

    ``alphas``: the risk levels at which the regret is measured (1 = risk-neutral). ``agent_alpha``: the
    alpha handed to the agent (only for agents whose constructor accepts ``alpha``), else None.
    ``setting``: labels of the sweep point (e.g. {"K": 1024} or {"d": 4}); ``hyper``: agent
    hyper-parameters (bonus_scale, preset, ...), passed only where the constructor accepts them.
    """

    algo: str
    seed: int
    instance: str
    K: int
    params: dict[str, Any] = field(default_factory=dict)
    alphas: tuple[float, ...] = (1.0,)
    agent_alpha: float | None = None
    hyper: dict[str, Any] = field(default_factory=dict)
    setting: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["alphas"] = list(self.alphas)
        return out


def split_seed(seed: int) -> tuple[int, int, int]:
    """(environment seed, agent seed, rollout seed) from one run seed."""
    children = np.random.SeedSequence(int(seed)).spawn(3)
    env, agent, roll = (int(c.generate_state(1, dtype=np.uint32)[0]) for c in children)
    return env, agent, roll


def agent_accepts(algo: str, name: str) -> bool:
    """Does the constructor of ``ALGORITHMS[algo]`` take a parameter ``name``?"""
    return name in inspect.signature(ALGORITHMS[algo].__init__).parameters


def run_one(cfg: RunConfig, chunk: int = 4096) -> dict[str, Any]:
    """Play ``cfg.K`` episodes and return the exact regret curve(s) and timings.

    Returns a dict with ``config``, ``regret`` {alpha: (K,) per-episode exact regret}, ``cum_regret``
    {alpha: (K,) cumulative}, ``v_star`` {alpha}, ``agent_time`` (K,) seconds per episode,
    ``n_switches``, the instance's ``S, A, d, H``, the derived seeds, and ``config_hash`` / ``env_hash``
    (sha256 prefixes of the run configuration and of the instance's phi, P, R, init; spec §6).
    """
    if cfg.algo not in ALGORITHMS:
        raise ValueError(f"algo must be one of {', '.join(ALGORITHMS)}, got {cfg.algo!r}")
    env_seed, agent_seed, roll_seed = split_seed(cfg.seed)
    mdp = make_instance(cfg.instance, seed=env_seed, **cfg.params)
    hyper = dict(cfg.hyper)
    hyper.setdefault("K", cfg.K)
    if cfg.agent_alpha is not None:
        hyper["alpha"] = cfg.agent_alpha
    agent = build_agent(ALGORITHMS[cfg.algo], mdp, agent_seed, **hyper)
    rng = np.random.default_rng(roll_seed)
    K, H, S = cfg.K, mdp.H, mdp.S
    regrets = {a: np.empty(K) for a in cfg.alphas}
    times = np.empty(K)
    pols = np.empty((min(chunk, K), H, S), dtype=np.int64)
    start = 0
    for k in range(K):
        t0 = time.perf_counter()
        pi = agent.policy()
        t1 = time.perf_counter()
        pols[k - start] = pi
        s, a, r = rollout.sample_episode(mdp, pi, rng)
        t2 = time.perf_counter()
        agent.observe(s, a, r)
        times[k] = (t1 - t0) + (time.perf_counter() - t2)
        if k - start + 1 == pols.shape[0] or k == K - 1:
            n = k - start + 1
            for alpha in cfg.alphas:
                regrets[alpha][start:k + 1] = dp.regret(mdp, pols[:n], alpha=alpha)
            start = k + 1
    v_star = {a: float(dp.initial_value(mdp, dp.optimal(mdp, alpha=a).V)) for a in cfg.alphas}
    env_hash = hashlib.sha256()
    for arr in (mdp.phi, mdp.P, mdp.R, np.asarray(mdp.init, dtype=np.float64)):
        env_hash.update(np.ascontiguousarray(arr).tobytes())
    return {
        "config": cfg.to_dict(),
        "config_hash": hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
        .hexdigest()[:16],
        "env_hash": env_hash.hexdigest()[:16],
        "env_seed": env_seed, "agent_seed": agent_seed, "rollout_seed": roll_seed,
        "regret": regrets,
        "cum_regret": {a: np.cumsum(v) for a, v in regrets.items()},
        "v_star": v_star,
        "agent_time": times,
        "n_switches": int(agent.n_switches),
        "S": mdp.S, "A": mdp.A, "d": mdp.d, "H": mdp.H,
    }
