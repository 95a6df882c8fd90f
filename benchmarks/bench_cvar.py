"""Benchmark: exact CVaR operator throughput (distributions per second), Numba vs numpy (issue 5).

Each row evaluates the exact lower-tail CVaR_α (spec eq. (17)) of a batch of random discrete
distributions with ``m`` atoms (values ~ U[0, H], probabilities ~ Dirichlet(0.5), α ~ U[0.01, 1]) and the
script asserts that all rows agree to 1e-12:

- ``simulators.cvar``   the public batched call (validation + one Numba call, one sort per row);
- ``numba kernel``      ``cvar_rows_kernel`` without validation (what hot loops call);
- ``shared values``     one value vector for all rows (``cvar(values_1d, probs_2d, alpha)``): sorted once,
                        the DP's situation (V_{h+1} sorted once per h, spec §5.1 "DP cost");
- ``numpy per call``    the straightforward per-call numpy implementation (argsort, cumsum, searchsorted,
                        dot) in a Python loop: the reference of the issue;
- ``numpy batched``     numpy vectorised across the batch (argsort along axis, cumsum, masks), a stronger
                        reference.

Best of ``--repeats`` interleaved rounds in one process, Numba compilation excluded (warm-up call).

    python benchmarks/bench_cvar.py [--atoms 10,50,200] [--batch 50000] [--loop 2000] [--repeats 5] [--seed 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import interleaved_best_times  # benchmarks/timing.py (scripts run from this folder)

from simulators import cvar  # noqa: E402
from simulators.cli_util import CliParser, cli_main, csv_of, nonneg_int, positive_int  # noqa: E402
from simulators.risk import cvar_numpy_reference, cvar_rows_kernel  # noqa: E402


def numpy_batched(values: np.ndarray, probs: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Eq. (17) vectorised across rows: sort, cumulative mass, clip each atom's mass to the α budget."""
    order = np.argsort(values, axis=1, kind="stable")
    v = np.take_along_axis(values, order, axis=1)
    p = np.take_along_axis(probs, order, axis=1)
    c = np.cumsum(p, axis=1)
    budget = alphas * c[:, -1]
    before = c - p
    take = np.clip(np.minimum(p, budget[:, None] - before), 0.0, None)
    return np.sum(take * v, axis=1) / budget


def numpy_per_call(values: np.ndarray, probs: np.ndarray, alphas: np.ndarray, n: int) -> None:
    """The reference: one call of the per-call numpy implementation per distribution."""
    for i in range(n):
        cvar_numpy_reference(values[i], probs[i], alphas[i])


@cli_main("bench_cvar")
def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = CliParser(prog="bench_cvar", description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=csv_of(positive_int), default=[10, 50, 200], help="atoms per distribution")
    ap.add_argument("--batch", type=positive_int, default=50_000, help="distributions for the fast rows")
    ap.add_argument("--loop", type=positive_int, default=2_000, help="distributions for the per-call numpy row")
    ap.add_argument("--H", type=positive_int, default=10, help="values lie in [0, H]")
    ap.add_argument("--repeats", type=positive_int, default=5)
    ap.add_argument("--seed", type=nonneg_int, default=0)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    print(f"{'atoms':>5s} {'method':16s} {'distributions':>13s} {'seconds':>9s} {'distr./s':>12s} {'speed-up':>9s}")
    for m in args.atoms:
        B = args.batch
        values = rng.uniform(0.0, args.H, size=(B, m))
        probs = rng.dirichlet(np.full(m, 0.5), size=B)
        alphas = rng.uniform(0.01, 1.0, size=B)
        shared_v = values[0].copy()
        n_loop = min(args.loop, B)

        exact = cvar(values, probs, alphas)  # warm-up (compiles / loads the cache) + correctness
        np.testing.assert_allclose(cvar_rows_kernel(values, probs, alphas), exact, atol=1e-12)
        np.testing.assert_allclose(numpy_batched(values, probs, alphas), exact, atol=1e-12)
        loop_vals = [cvar_numpy_reference(values[i], probs[i], alphas[i]) for i in range(n_loop)]
        np.testing.assert_allclose(loop_vals, exact[:n_loop], atol=1e-12)
        np.testing.assert_allclose(
            cvar(shared_v, probs, alphas), cvar(np.broadcast_to(shared_v, values.shape), probs, alphas), atol=1e-12
        )

        t = interleaved_best_times(
            args.repeats,
            {
                "simulators.cvar": (cvar, (values, probs, alphas)),
                "numba kernel": (cvar_rows_kernel, (values, probs, alphas)),
                "shared values": (cvar, (shared_v, probs, alphas)),
                "numpy per call": (numpy_per_call, (values, probs, alphas, n_loop)),
                "numpy batched": (numpy_batched, (values, probs, alphas)),
            },
        )
        rows = [(name, n_loop if name == "numpy per call" else B, secs) for name, secs in t.items()]
        rate = {name: cnt / t for name, cnt, t in rows}
        for name, cnt, t in rows:
            print(f"{m:5d} {name:16s} {cnt:13d} {t:9.4f} {cnt / t:12.0f} {rate['simulators.cvar'] / rate[name]:8.1f}x")
        print(
            f"{m:5d} ratio simulators.cvar / numpy per call = {rate['simulators.cvar'] / rate['numpy per call']:.0f}x; "
            f"/ numpy batched = {rate['simulators.cvar'] / rate['numpy batched']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
