"""Bellman and dynamic-programming identities of the exact DP (spec §7 "Bellman and DP identities").

On random linear MDPs (and a few other instances), to 1e-12 unless said otherwise:

- V* and Q* satisfy the optimality equations (3): Q*_h = r_h + P_h V*_{h+1}, V*_h = max_a Q*_h;
- V^π of a random stochastic policy satisfies (2); the greedy policy of Q* has value V*;
- performance difference: V*_1 − V^π_1 = E_π Σ_h [V*_h(s_h) − Q*_h(s_h, a_h)] (occupancy measures);
- total variance (33): Var_π(Σ_h r_h) = E_π Σ_h Var_{P_h}(V^π_{h+1})(s_h, a_h) ≤ H² (deterministic π, fixed
  s_1; both sides by exact recursions, equal to 1e-9);
- iterated CVaR: V*_α ≤ V*_neutral, V*_α non-decreasing in α, α = 1 equal to the risk-neutral DP;
- exact regret: Σ_k (V*_1 − V^{π_k}_1) by :func:`simulators.dp.regret` equals the sum of per-policy
  differences computed independently here (and, in ``__main__``, the regret harness's own number).

The residuals are recomputed here with plain numpy (einsum), independently of the Numba DP kernels.
The DP entry point is injectable (``optimal_fn``) so a test can feed a wrong one and see the check fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from proofs_checks.core import CheckResult

SRC = "spec §1 eq. (2)-(4), §5.1 eq. (19)-(20), §7"


def _bellman_mean(mdp: Any, V_next: np.ndarray, h: int) -> np.ndarray:
    return mdp.R[h] + np.einsum("sat,t->sa", mdp.P[h], V_next)


def _point_occupancy(mdp: Any, pi: np.ndarray, s1: int) -> np.ndarray:
    """d_h(s,a) from a fixed start s1 for a stochastic policy pi (H,S,A) (forward recursion)."""
    occ = np.zeros((mdp.H, mdp.S, mdp.A))
    ds = np.zeros(mdp.S)
    ds[s1] = 1.0
    for h in range(mdp.H):
        occ[h] = ds[:, None] * pi[h]
        ds = np.einsum("sa,sat->t", occ[h], mdp.P[h])
    return occ


def _one_hot(mdp: Any, pi_det: np.ndarray) -> np.ndarray:
    out = np.zeros((mdp.H, mdp.S, mdp.A))
    np.put_along_axis(out, pi_det[..., None].astype(np.int64), 1.0, axis=-1)
    return out


def check_instance(mdp: Any, rng: np.random.Generator, label: str,
                   optimal_fn: Callable[..., Any] | None = None) -> list[CheckResult]:
    from simulators import dp

    opt = dp.optimal if optimal_fn is None else optimal_fn
    res = opt(mdp)
    Q, V = np.asarray(res.Q), np.asarray(res.V)
    H = mdp.H
    case = {"P": mdp.P, "R": mdp.R, "init": mdp.init}
    resid_q = max(float(np.abs(Q[h] - _bellman_mean(mdp, V[h + 1], h)).max()) for h in range(H))
    resid_v = float(np.abs(V[:H] - Q.max(-1)).max())
    out = [
        CheckResult("bellman-optimality(3)", label, resid_q + resid_v, 0.0, "eq", 1e-12, SRC, case),
        CheckResult("V*-range[0,H]", label, float(V.max()), float(H), "le", 1e-12, SRC, case),
    ]
    # random stochastic policy: eq. (2)
    pi = rng.dirichlet(np.ones(mdp.A), size=(H, mdp.S))
    Vp = np.asarray(dp.policy_value(mdp, pi))
    resid = max(float(np.abs(Vp[h] - (pi[h] * _bellman_mean(mdp, Vp[h + 1], h)).sum(-1)).max()) for h in range(H))
    out.append(CheckResult("bellman-policy(2)", label, resid, 0.0, "eq", 1e-12, SRC, {**case, "pi": pi}))
    # greedy policy of Q* has value V*
    Vg = np.asarray(dp.policy_value(mdp, Q.argmax(-1)))
    out.append(CheckResult("greedy(Q*)-has-value-V*", label, float(np.abs(Vg - V).max()), 0.0, "eq", 1e-12,
                           SRC, case))
    # performance difference via occupancy measures
    occ = np.asarray(dp.occupancy(mdp, pi))
    pdl = float(mdp.init @ (V[0] - Vp[0]))
    pdr = float((occ * (V[:H, :, None] - Q)).sum())
    out.append(CheckResult("performance-difference", label, pdl, pdr, "eq", 1e-10, SRC, {**case, "pi": pi}))
    # total variance (33) for a deterministic policy from a fixed start
    pi_det = rng.integers(0, mdp.A, size=(H, mdp.S))
    Vd = np.asarray(dp.policy_value(mdp, pi_det))
    s1 = int(np.argmax(mdp.init))
    M = np.zeros(mdp.S)  # second moment of the return from step h on
    for h in range(H - 1, -1, -1):
        a = pi_det[h]
        r = mdp.R[h][np.arange(mdp.S), a]
        Ph = mdp.P[h][np.arange(mdp.S), a]
        M = r**2 + 2.0 * r * (Ph @ Vd[h + 1]) + Ph @ M
    var_lhs = float(M[s1] - Vd[0, s1] ** 2)
    occd = _point_occupancy(mdp, _one_hot(mdp, pi_det), s1)
    cond_var = np.stack([np.einsum("sat,t->sa", mdp.P[h], Vd[h + 1] ** 2)
                         - np.einsum("sat,t->sa", mdp.P[h], Vd[h + 1]) ** 2 for h in range(H)])
    var_rhs = float((occd * cond_var).sum())
    out.append(CheckResult("total-variance(33)", label, var_lhs, var_rhs, "eq", 1e-9, SRC,
                           {**case, "pi": pi_det}))
    out.append(CheckResult("total-variance<=H^2", label, var_lhs, float(H**2), "le", 1e-12, SRC,
                           {**case, "pi": pi_det}))
    # exact regret of a sequence of policies against an independent sum
    pols = rng.integers(0, mdp.A, size=(5, H, mdp.S))
    reg = float(np.sum(dp.regret(mdp, pols)))
    v1 = float(mdp.init @ V[0])
    ind = sum(v1 - float(mdp.init @ np.asarray(dp.policy_value(mdp, p))[0]) for p in pols)
    out.append(CheckResult("regret-decomposition(4)", label, reg, ind, "eq", 1e-12, SRC, case))
    # iterated CVaR orderings
    prev = None
    vals = {}
    for alpha in (0.05, 0.25, 0.5, 1.0):
        vals[alpha] = float(mdp.init @ np.asarray(dp.optimal(mdp, alpha=alpha).V)[0])
        if prev is not None:
            out.append(CheckResult("icvar-V*-nondecreasing-in-alpha", f"{label} alpha={prev}->{alpha}",
                                   vals[prev], vals[alpha], "le", 1e-12, SRC, case))
        prev = alpha
    forced = np.asarray(dp.optimal(mdp, alpha=1.0, operator="cvar").V)
    out.append(CheckResult("icvar(alpha=1)=risk-neutral", label, float(np.abs(forced - V).max()), 0.0, "eq",
                           1e-12, SRC, case))
    out.append(CheckResult("icvar-V*<=neutral-V*", label, vals[0.05], float(mdp.init @ V[0]), "le", 1e-12, SRC,
                           case))
    return out


def run(rng: np.random.Generator, quick: bool = False,
        optimal_fn: Callable[..., Any] | None = None) -> list[CheckResult]:
    """All identities on random linear MDPs (3 seeds, quick: 1) and a tabular-as-linear instance."""
    from simulators import make_instance

    out: list[CheckResult] = []
    seeds = [int(s) for s in rng.integers(0, 2**31, size=1 if quick else 3)]
    for seed in seeds:
        mdp = make_instance("random", seed=seed, S=20, A=4, d=6, H=6)
        out += check_instance(mdp, rng, f"random S=20 A=4 d=6 H=6 seed={seed}", optimal_fn)
    mdp = make_instance("tabular", seed=seeds[0], S=6, A=3, H=5)
    out += check_instance(mdp, rng, f"tabular S=6 A=3 H=5 seed={seeds[0]}", optimal_fn)
    out.append(harness_regret(seeds[0], 50 if quick else 300))
    return out


def harness_regret(seed: int, K: int, algo: str = "lsvi-ucb") -> CheckResult:
    """The regret harness's cumulative regret equals Σ_k (V*_1 − V^{π_k}_1) recomputed here.

    The run is replayed with the harness's own seed split, so the policies are the ones it played;
    each V^{π_k} is then computed by an independent numpy backward pass (not the Numba regret kernel).
    """
    from provable.agents import ALGORITHMS, build_agent
    from provable.harness.run import RunConfig, run_one, split_seed
    from simulators import make_instance, rollout

    params = {"S": 10, "A": 3, "d": 4, "H": 4}
    cfg = RunConfig(algo=algo, seed=seed, instance="random", K=K, params=params, hyper={"bonus_scale": 0.1})
    harness = float(run_one(cfg)["cum_regret"][1.0][-1])
    env_seed, agent_seed, roll_seed = split_seed(seed)
    mdp = make_instance("random", seed=env_seed, **params)
    agent = build_agent(ALGORITHMS[algo], mdp, agent_seed, K=K, bonus_scale=0.1)
    rng = np.random.default_rng(roll_seed)
    V_star = np.zeros(mdp.S)
    for h in range(mdp.H - 1, -1, -1):
        V_star = _bellman_mean(mdp, V_star, h).max(-1)
    total = 0.0
    idx = np.arange(mdp.S)
    for _ in range(K):
        pi = agent.policy()
        V = np.zeros(mdp.S)
        for h in range(mdp.H - 1, -1, -1):
            V = _bellman_mean(mdp, V, h)[idx, pi[h]]
        total += float(mdp.init @ (V_star - V))
        s, a, r = rollout.sample_episode(mdp, pi, rng)
        agent.observe(s, a, r)
    return CheckResult("harness-regret=sum(V*-V^pi_k)", f"{algo} random S=10 A=3 d=4 H=4 K={K} seed={seed}",
                       harness, total, "eq", 1e-9, SRC, {"seed": seed, "K": K})
