"""Optimism of the LSVI family on real runs, and the feature sequences those runs produce (spec §7).

On the good event of the regret proofs the optimistic estimate dominates the truth:

- LSVI-UCB (Jin et al. 2020, Lemma B.5): Q^k_h(s,a) ≥ Q*_h(s,a) for all (k, h, s, a) w.p. ≥ 1 − p;
- LSVI-UCB++ (He et al. 2023, Lemma B.4): Q_{k,h} ≥ Q*_h ≥ Q̌_{k,h}, on an event of probability
  ≥ 1 − 8δ (the good events of Lemmas B.1 and B.5 fail w.p. ≤ 7δ + δ).

Rows (theory constants, small instances so that many seeds run in seconds):

- the fraction of (episode, h, s, a) where Q̂ ≥ Q* for LSVI-UCB, LSVI-UCB+ and LSVI-UCB++ (≥ 1 − δ);
- the fraction of runs of LSVI-UCB++ with ANY violation of Q ≥ Q* ≥ Q̌ (≤ 8δ).

At theory constants the radii are large, so optimism holds with room to spare; the rows report how
much (an honest "slack"), and a test shows the check fails when the bonus is removed.
:func:`logged_features` returns the φ (and φ/σ̄) sequences these runs visit, for the elliptical checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from proofs_checks.core import CheckResult

SRC = "Jin et al. 2020 Lemma B.5; He et al. 2023 Lemma B.4; spec §7 'Optimism coverage'"
DELTA = 0.05
ALGOS = ("lsvi-ucb", "lsvi-ucb-plus", "lsvi-ucb-pp")


def _instance(seed: int) -> Any:
    from simulators import make_instance

    return make_instance("random", seed=seed, S=8, A=3, d=4, H=3)


def _agent(algo: str, mdp: Any, seed: int, K: int, **hyper: Any) -> Any:
    from provable.agents import ALGORITHMS, build_agent

    kw: dict[str, Any] = {"K": K, **hyper}
    if algo == "lsvi-ucb":
        kw.setdefault("p", DELTA)
    else:
        kw.setdefault("delta", DELTA)
    return build_agent(ALGORITHMS[algo], mdp, seed, **kw)


def optimism_run(algo: str, seed: int, K: int, **hyper: Any) -> tuple[float, bool, dict[str, np.ndarray]]:
    """One run: (fraction of (k,h,s,a) with Q̂ ≥ Q*, any violation of Q ≥ Q* ≥ Q̌, logged features)."""
    from simulators import dp, rollout

    mdp = _instance(seed)
    q_star = dp.optimal(mdp).Q
    agent = _agent(algo, mdp, seed, K, **hyper)
    rng = np.random.default_rng(seed + 1)
    ok = 0
    violated = False
    feats, weighted = [], []
    for _ in range(K):
        pi = agent.policy()
        up = agent.Q >= q_star - 1e-9
        ok += int(up.sum())
        lo = getattr(agent, "Q_check", None)
        pess = getattr(agent.config, "pessimistic", False)
        violated |= bool(not up.all() or (pess and lo is not None and np.any(lo > q_star + 1e-9)))
        s, a, r = rollout.sample_episode(mdp, pi, rng)
        agent.observe(s, a, r)
        x = mdp.phi[s[0], a[0]]
        feats.append(x)
        if getattr(agent.config, "weighted", False):
            weighted.append(x / agent.last_sigma_bar[0])
    frac = ok / (K * mdp.H * mdp.S * mdp.A)
    logged = {f"{algo} h=1 seed={seed}": np.array(feats)}
    if weighted:
        logged[f"{algo} h=1 phi/sigma seed={seed}"] = np.array(weighted)
    return frac, violated, logged


def run(rng: np.random.Generator, quick: bool = False,
        hyper: Callable[[str], dict[str, Any]] | None = None) -> list[CheckResult]:
    """Optimism fractions for :data:`ALGOS` and the LSVI-UCB++ any-violation rate over seeds."""
    n_seeds, K = (4, 60) if quick else (20, 300)
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=n_seeds)]
    out = []
    for algo in ALGOS:
        kw = {} if hyper is None else hyper(algo)
        fracs, viol = [], []
        for seed in seeds:
            f, v, _ = optimism_run(algo, seed, K, **kw)
            fracs.append(f)
            viol.append(v)
        case = {"seeds": np.array(seeds), "K": K}
        out.append(CheckResult(f"optimism Q>=Q* ({algo})", f"random S=8 A=3 d=4 H=3 K={K} seeds={n_seeds}",
                               float(np.min(fracs)), 1.0 - DELTA, "ge", 0.0, SRC, case,
                               {"mean_fraction": float(np.mean(fracs))}))
        if algo == "lsvi-ucb-pp":
            out.append(CheckResult("optimism Q>=Q*>=Qcheck any-violation rate (lsvi-ucb-pp)",
                                   f"K={K} seeds={n_seeds}", float(np.mean(viol)), 8 * DELTA, "le", 0.0, SRC, case))
    return out


def logged_features(seed: int, quick: bool = False) -> dict[str, np.ndarray]:
    """φ(s_1, a_1) sequences (and φ/σ̄ for the weighted algorithms) visited by real LSVI runs."""
    K = 300 if quick else 2000
    out: dict[str, np.ndarray] = {}
    for algo in ("lsvi-ucb", "lsvi-ucb-plus"):
        _, _, logged = optimism_run(algo, seed, K, bonus_scale=0.05)
        out.update(logged)
    return out
