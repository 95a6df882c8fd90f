"""Benchmark: episodes sampled per second by the Numba rollout kernel against plain numpy (issue 3).

All rows sample the same episodes of the same policy on the same instance (default: RandomLinearMDP
S=50, A=5, d=10, H=10, spec §2.1) from the same uniforms, and the script asserts that their outputs are
identical, so they do the same work:

- ``numba``:        ``simulators.rollout.sample_episodes`` (validation, uniforms drawn by numpy, one Numba
                    call for all episodes; inverse-CDF by binary search in the cumulative rows of P);
- ``numpy loop``:   a plain Python/numpy loop over episodes and steps, ``np.searchsorted`` on the same
                    cumulative rows (the reference of the issue: goal >= 50x);
- ``numpy vector``: numpy vectorised across episodes (one fancy-indexing pass per step), a stronger
                    reference that a numpy user could write.

Timings are best of ``--repeats`` interleaved rounds in one process, after a warm-up call (Numba
compilation excluded and cached). Deterministic and stochastic policies are both measured.

    python benchmarks/bench_rollout.py [--episodes 100000] [--loop-episodes 2000] [--repeats 5] [--seed 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import interleaved_best_times  # benchmarks/timing.py (scripts run from this folder)

from simulators import dp, make_instance, rollout  # noqa: E402
from simulators.cli_util import CliParser, cli_main, nonneg_int, positive_int  # noqa: E402


def numpy_loop(P_cum, R, init_cum, pi, stochastic, u0, u):
    """The reference: one Python iteration per episode and step, numpy for each draw."""
    n, H = u.shape[0], u.shape[1]
    states = np.empty((n, H + 1), dtype=np.int64)
    actions = np.empty((n, H), dtype=np.int64)
    rewards = np.empty((n, H))
    pi_cum = np.cumsum(pi, axis=-1) if stochastic else None
    if stochastic:
        pi_cum[..., -1] = 1.0
    for e in range(n):
        s = int(np.searchsorted(init_cum, u0[e], side="right"))
        states[e, 0] = s
        for h in range(H):
            a = int(np.searchsorted(pi_cum[h, s], u[e, h, 0], side="right")) if stochastic else int(pi[h, s])
            rewards[e, h] = R[h, s, a]
            actions[e, h] = a
            s = int(np.searchsorted(P_cum[h, s, a], u[e, h, 1], side="right"))
            states[e, h + 1] = s
    return states, actions, rewards


def numpy_vector(P_cum, R, init_cum, pi, stochastic, u0, u):
    """Vectorised across episodes: per step, gather each episode's cumulative row and count entries <= u."""
    n, H = u.shape[0], u.shape[1]
    states = np.empty((n, H + 1), dtype=np.int64)
    actions = np.empty((n, H), dtype=np.int64)
    s = np.searchsorted(init_cum, u0, side="right")
    states[:, 0] = s
    if stochastic:
        pi_cum = np.cumsum(pi, axis=-1)
        pi_cum[..., -1] = 1.0
    for h in range(H):
        if stochastic:
            a = (pi_cum[h, s] <= u[:, h, 0:1]).sum(axis=1)
        else:
            a = pi[h, s]
        actions[:, h] = a
        s = (P_cum[h, s, a] <= u[:, h, 1:2]).sum(axis=1)
        states[:, h + 1] = s
    rewards = R[np.arange(H)[None, :], states[:, :-1], actions]
    return states, actions, rewards


@cli_main("bench_rollout")
def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = CliParser(prog="bench_rollout", description=__doc__.splitlines()[0])
    ap.add_argument("--instance", default="random", help="instance name (default random, spec §2.1 defaults)")
    ap.add_argument("--episodes", type=positive_int, default=100_000, help="episodes for the fast rows")
    ap.add_argument("--loop-episodes", type=positive_int, default=2_000, help="episodes for the numpy loop")
    ap.add_argument("--repeats", type=positive_int, default=5)
    ap.add_argument("--seed", type=nonneg_int, default=0)
    args = ap.parse_args(argv)

    mdp = make_instance(args.instance, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    pols = {
        "deterministic": dp.optimal(mdp).pi,
        "stochastic": rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S)),
    }
    P_cum, R = np.asarray(mdp.P_cum), np.asarray(mdp.R)
    init_cum = np.cumsum(mdp.init)
    init_cum[-1] = 1.0
    print(f"instance {mdp!r}")
    print(f"{'policy':14s} {'method':13s} {'episodes':>9s} {'seconds':>9s} {'episodes/s':>12s} {'speed-up':>9s}")
    for pname, pi in pols.items():
        stochastic = pi.ndim == 3
        # same uniforms as sample_episodes(seed): u0 then u
        g = np.random.default_rng(args.seed + 1)
        n_loop = min(args.loop_episodes, args.episodes)
        u0, u = g.random(n_loop), g.random((n_loop, mdp.H, 3))
        ref = rollout.sample_episodes(mdp, pi, n_loop, np.random.default_rng(args.seed + 1))
        loop = numpy_loop(P_cum, R, init_cum, pi, stochastic, u0, u)
        vec = numpy_vector(P_cum, R, init_cum, pi, stochastic, u0, u)
        for a, b, c in zip(ref, loop, vec):  # the three do the same work
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)
        n = args.episodes
        g = np.random.default_rng(args.seed + 2)
        u0b, ub = g.random(n), g.random((n, mdp.H, 3))
        t = interleaved_best_times(
            args.repeats,
            {
                "numba": (rollout.sample_episodes, (mdp, pi, n, args.seed)),
                "numpy loop": (numpy_loop, (P_cum, R, init_cum, pi, stochastic, u0, u)),
                "numpy vector": (numpy_vector, (P_cum, R, init_cum, pi, stochastic, u0b, ub)),
            },
        )
        t_nb, t_loop, t_vec = t["numba"], t["numpy loop"], t["numpy vector"]
        eps = {"numba": n / t_nb, "numpy loop": n_loop / t_loop, "numpy vector": n / t_vec}
        rows = [("numba", n, t_nb), ("numpy loop", n_loop, t_loop), ("numpy vector", n, t_vec)]
        for method, cnt, t in rows:
            ratio = eps["numba"] / eps[method]
            print(f"{pname:14s} {method:13s} {cnt:9d} {t:9.3f} {cnt / t:12.0f} {ratio:8.1f}x")
        print(
            f"{pname:14s} ratio numba / numpy loop = {eps['numba'] / eps['numpy loop']:.0f}x (goal >= 50x); "
            f"numba / numpy vector = {eps['numba'] / eps['numpy vector']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
