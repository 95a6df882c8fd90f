"""Benchmark: ICVaR-L episodes per second, fast path against plain path, in one run (issue 5, spec §5.3, §8).

Both paths are the same algorithm (spec eq. 23-26) and compute the same Q to 1e-9
(``tests/provable/test_icvar_l.py``):

- ``fast``   next-state aggregation (spec eq. 35): mu_hat_h = Lambda_h^-1 M_h, cumulative sums of
             p_hat = phi^T mu_hat_h in V_hat_{h+1}-sorted order, one fused Numba scan; O(S^2 |A| d) per h,
             flat in k;
- ``plain``  the literal eq. (23): level-set targets 1{V_hat(s'_tau) <= u_j} of every stored transition,
             W_hat = Lambda^-1 sum_tau phi_tau y_tau^T, then F_hat = Phi W_hat; O(k d J) per h, grows with k.

Each path plays K episodes of its own on the same instance with the same rollout seed (so, the paths
being equal, the same trajectory); agent time only (``policy`` + ``observe``), Numba compilation excluded
by a warm-up agent. Instance default: the anchor configuration of spec §8 (homogeneous random linear
MDP, S = 50, |A| = 5, d = 10, H = 10), exact-support grid; spec §8's target for ICVaR-L is <= 60 s at K = 2000.

    python benchmarks/bench_icvar.py [--K 2000] [--alpha 0.25] [--bonus-scale 0.1] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provable.agents.icvar_l import ICVaRL  # noqa: E402
from simulators import dp, make_instance, rollout  # noqa: E402
from simulators.cli_util import (  # noqa: E402
    CliParser,
    cli_main,
    command_line,
    new_run_dir,
    nonneg_float,
    nonneg_int,
    positive_int,
    unit_interval,
    write_json,
)


def play(agent: ICVaRL, mdp, K: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """K episodes; returns the agent time per episode (K,) and the policies (K, H, S)."""
    rng = np.random.default_rng(seed)
    times = np.empty(K)
    pols = np.empty((K, mdp.H, mdp.S), dtype=np.int64)
    for k in range(K):
        t0 = time.perf_counter()
        pi = agent.policy()
        t1 = time.perf_counter()
        pols[k] = pi
        s, a, r = rollout.sample_episode(mdp, pi, rng)
        t2 = time.perf_counter()
        agent.observe(s, a, r)
        times[k] = (t1 - t0) + (time.perf_counter() - t2)
    return times, pols


@cli_main("bench_icvar")
def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write results.json in a new run folder."""
    ap = CliParser(prog="bench_icvar", description=__doc__.splitlines()[0])
    ap.add_argument("--S", type=positive_int, default=50)
    ap.add_argument("--A", type=positive_int, default=5)
    ap.add_argument("--d", type=positive_int, default=10)
    ap.add_argument("--H", type=positive_int, default=10)
    ap.add_argument("--K", type=positive_int, default=2000, help="episodes per path (default 2000)")
    ap.add_argument("--alpha", type=unit_interval, default=0.25, help="risk level (default 0.25)")
    ap.add_argument("--bonus-scale", type=nonneg_float, default=0.1, help="c_F of beta_F (default 0.1)")
    ap.add_argument("--grid", choices=["support", "uniform"], default="support")
    ap.add_argument("--seed", type=nonneg_int, default=0)
    ap.add_argument("--out", default=None, help="run folder base (default runs/); a new folder each run")
    args = ap.parse_args(argv)

    mdp = make_instance("random", seed=args.seed, S=args.S, A=args.A, d=args.d, H=args.H, homogeneous=True)
    hyper = dict(reward=mdp.R, seed=args.seed, alpha=args.alpha, K=args.K, bonus_scale=args.bonus_scale, grid=args.grid)
    for path in ("fast", "plain"):  # warm-up: compile / load the Numba caches
        warm = ICVaRL(mdp.phi, mdp.H, path=path, **hyper)
        play(warm, mdp, 3, args.seed)

    results = {}
    pols = {}
    for path in ("fast", "plain"):
        agent = ICVaRL(mdp.phi, mdp.H, path=path, **hyper)
        times, pols[path] = play(agent, mdp, args.K, args.seed + 1)
        tenth = max(1, args.K // 10)
        results[path] = {
            "agent_seconds": float(times.sum()),
            "episodes_per_second": float(args.K / times.sum()),
            "ms_per_episode_first_10pct": float(1e3 * times[:tenth].mean()),
            "ms_per_episode_last_10pct": float(1e3 * times[-tenth:].mean()),
        }
    same = bool(np.array_equal(pols["fast"], pols["plain"]))
    regret = np.cumsum(dp.regret(mdp, pols["fast"], alpha=args.alpha))
    ratio = results["fast"]["episodes_per_second"] / results["plain"]["episodes_per_second"]

    print(
        f"ICVaR-L on random S={args.S} A={args.A} d={args.d} H={args.H} (homogeneous), alpha={args.alpha:g}, "
        f"grid={args.grid}, bonus_scale={args.bonus_scale:g}, K={args.K}"
    )
    print(f"{'path':6s} {'agent s':>9s} {'episodes/s':>11s} {'ms/ep first 10%':>16s} {'ms/ep last 10%':>15s}")
    for path, r in results.items():
        print(
            f"{path:6s} {r['agent_seconds']:9.2f} {r['episodes_per_second']:11.1f} "
            f"{r['ms_per_episode_first_10pct']:16.2f} {r['ms_per_episode_last_10pct']:15.2f}"
        )
    print(
        f"throughput ratio fast/plain = {ratio:.2f}x; identical policies on all {args.K} episodes: {same}; "
        f"exact CVaR regret R_K = {regret[-1]:.2f}"
    )

    out = new_run_dir(args.out or "runs", "bench_icvar")
    write_json(
        out / "results.json",
        {
            "command": command_line(argv, "benchmarks/bench_icvar.py").replace("python -m ", "python "),
            "config": vars(args),
            "paths": results,
            "ratio_fast_over_plain": ratio,
            "identical_policies": same,
            "cum_regret_final": float(regret[-1]),
        },
    )
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
