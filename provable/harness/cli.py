"""``python -m provable regret``: the regret-scaling harness (spec §6), the library's main job.

Default (no arguments): LSVI-UCB, LSVI-UCB+, LSVI-UCB++ and the uniform-random baseline on the K-tuned
hard instance (spec §2.3, d=4, H=5, rebuilt with its own Delta(K) at every K, where sqrt(K) growth
shows; random instances saturate like log K, spec §6), K = 2^7..2^12, 8 seeds; writes a new run folder
under runs/ and regenerates ``figures/regret_scaling.png`` and ``figures/regret_scaling.json``.

Reading the default figure: on the K-tuned hard instance the per-episode gap of EVERY policy is
O(d H^{3/2} / sqrt(K)), so every algorithm, the uniform-random baseline included, has regret
Theta(d H sqrt(T)) there; the growth checks verify that the measured regret respects the bound's shape,
and the baseline shows what "no learning" looks like at the same K. At feasible K, with theory or
practical constants, the optimistic estimates stay clipped at H on this instance (its Delta is below
the confidence width by construction), so the LSVI curves coincide with the priority policy.

Sweeps: ``--sweep K`` (default), ``--sweep d`` or ``--sweep H`` (at fixed ``--K``, values from
``--values``). ``--alpha 1,0.5,0.25`` measures the exact iterated-CVaR regret at each alpha (agents whose
constructor accepts ``alpha`` receive it; the others are evaluated at each alpha on one trajectory).
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from provable import bounds
from provable.agents import ALGORITHMS
from provable.harness import growth, plots
from provable.harness.run import RunConfig, agent_accepts
from provable.harness.sweep import BACKENDS, run_jobs
from simulators.cli_util import (
    CliParser,
    choice_list,
    cli_main,
    command_line,
    csv_of,
    fresh_output_dir,
    new_run_dir,
    nonneg_float,
    nonneg_int,
    positive_int,
    unit_interval,
    write_json,
)
from simulators.instances import INSTANCES, instance_params

PROG = "python -m provable regret"
DEFAULT_ALGOS = ["lsvi-ucb", "lsvi-ucb-plus", "lsvi-ucb-pp", "uniform-random"]
DEFAULT_VALUES = {"d": [3, 4, 5, 6], "H": [3, 4, 6, 8]}


def _param(text: str) -> tuple[str, Any]:
    import argparse

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    key, val = text.split("=", 1)
    key = key.strip()
    low = val.strip().lower()
    out: Any
    if low in ("true", "false"):
        out = low == "true"
    else:
        try:
            out = int(val)
        except ValueError:
            try:
                out = float(val)
            except ValueError:
                out = val.strip()
    return key, out


def build_parser() -> CliParser:
    p = CliParser(prog=PROG, description=(
        "Exact-regret scaling harness for LSVI-UCB / LSVI-UCB+ / LSVI-UCB++ (and any registered agent): "
        "runs (algorithm, seed, setting) jobs in parallel, writes results.json with the cumulative exact "
        "regret curves and the growth checks of spec §6, and the figures."))
    p.add_argument("--algo", type=choice_list(list(ALGORITHMS)), default=DEFAULT_ALGOS,
                   help=f"comma-separated algorithms from {', '.join(ALGORITHMS)} (default: %(default)s)")
    p.add_argument("--instance", choices=list(INSTANCES), default="hard",
                   help="linear-MDP instance (default: hard, the K-tuned lower-bound instance)")
    p.add_argument("--param", type=_param, action="append", default=[], metavar="NAME=VALUE",
                   help="instance parameter, repeatable (e.g. --param eta=0.01 --param S=30)")
    p.add_argument("--d", type=positive_int, default=None, help="instance dimension d (default: instance's)")
    p.add_argument("--H", type=positive_int, default=None, help="horizon H (default: instance's)")
    p.add_argument("--K", type=positive_int, default=4096, help="largest number of episodes (default 4096)")
    p.add_argument("--K-grid", type=csv_of(positive_int), default=None,
                   help="explicit K values of the K-sweep (default: octaves K/32 .. K)")
    p.add_argument("--sweep", choices=["K", "d", "H"], default="K",
                   help="what varies: K (default), d or H at fixed --K (spec §6 (P3))")
    p.add_argument("--values", type=csv_of(positive_int), default=None,
                   help="values of d or H for --sweep d|H (default d: 3,4,5,6; H: 3,4,6,8)")
    p.add_argument("--seeds", type=positive_int, default=8, help="seeds per cell (default 8; spec: >= 20)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="base seed: runs use seed, seed+1, ...")
    p.add_argument("--bonus-scale", type=nonneg_float, default=None,
                   help="multiplies every exploration radius (default: 1 = theory constants of eq. (11)/(15))")
    p.add_argument("--preset", choices=["theory", "practical"], default="practical",
                   help="preset of LSVI-UCB+/++ (spec §4.3; default practical)")
    p.add_argument("--alpha", type=csv_of(unit_interval), default=[1.0],
                   help="comma-separated risk levels in (0,1]: exact iterated-CVaR regret (1 = risk-neutral)")
    p.add_argument("--backend", choices=list(BACKENDS), default="local",
                   help="local processes (default) or Ray tasks on an existing cluster")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: $RAY_ADDRESS)")
    p.add_argument("--workers", type=positive_int, default=2, help="local worker processes (default 2)")
    p.add_argument("--out", default=None, help="run folder (must be new or empty; default: a new runs/regret-N)")
    p.add_argument("--figures", default="figures", help="folder for the figures + json (default: figures)")
    p.add_argument("--name", default=None,
                   help="figure file stem (default: regret_scaling / regret_vs_d / regret_vs_H / regret_alpha)")
    p.add_argument("--bootstrap", type=positive_int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


# ------------------------------------------------------------------------------------------------
def _octaves(K: int, n: int = 6, lo: int = 1) -> list[int]:
    ks = sorted({max(lo, int(round(K / 2**j))) for j in range(n)})
    return ks


def _instance_params(args: Any) -> dict[str, Any]:
    allowed = instance_params(args.instance)
    params = dict(args.param)
    for key in ("d", "H"):
        val = getattr(args, key)
        if val is not None:
            if key not in allowed:
                raise ValueError(f"--{key}: instance {args.instance!r} has no parameter {key!r} "
                                 f"(its parameters: {', '.join(allowed)})")
            params[key] = val
    unknown = sorted(set(params) - set(allowed))
    if unknown and args.instance != "misspecified":
        raise ValueError(f"--param {', '.join(unknown)}: not a parameter of instance {args.instance!r} "
                         f"(allowed: {', '.join(allowed)})")
    if "K" in params:
        raise ValueError("--param K: use --K / --K-grid (the hard instance is rebuilt for every K)")
    return params


def _hyper(args: Any) -> dict[str, Any]:
    h: dict[str, Any] = {"preset": args.preset}
    if args.bonus_scale is not None:
        h["bonus_scale"] = args.bonus_scale
    return h


def _jobs(args: Any, params: dict[str, Any], k_tuned: bool) -> list[RunConfig]:
    jobs: list[RunConfig] = []
    seeds = [args.seed + i for i in range(args.seeds)]
    if args.sweep == "K":
        if k_tuned:
            d = params.get("d", instance_params(args.instance).get("d", 4))
            H = params.get("H", instance_params(args.instance).get("H", 5))
            k_min = math.ceil((d - 1) ** 2 * H / 2)
            grid = sorted(args.K_grid) if args.K_grid else [k for k in _octaves(args.K) if k >= k_min]
            if grid and grid[0] < k_min:
                raise ValueError(f"--K-grid: the hard instance needs K >= (d-1)^2 H / 2 = {k_min}")
            if not grid:
                raise ValueError(f"--K: the hard instance needs K >= (d-1)^2 H / 2 = {k_min}")
            settings = [({"K": k}, {**params, "K": k}, k) for k in grid]
        else:
            settings = [({"K": args.K}, dict(params), args.K)]
    else:
        var = args.sweep
        if var not in instance_params(args.instance):
            raise ValueError(f"--sweep {var}: instance {args.instance!r} has no parameter {var!r}")
        if var in params and args.values is None:
            raise ValueError(f"--sweep {var} with --{var}: give the values with --values")
        vals = args.values or DEFAULT_VALUES[var]
        settings = []
        for v in vals:
            p = {**params, var: v}
            if k_tuned:
                p["K"] = args.K
            settings.append(({var: v}, p, args.K))
    for algo in args.algo:
        takes_alpha = agent_accepts(algo, "alpha")
        alpha_groups = [[a] for a in args.alpha] if takes_alpha else [list(args.alpha)]
        for label, p, K in settings:
            for group in alpha_groups:
                for s in seeds:
                    jobs.append(RunConfig(algo=algo, seed=s, instance=args.instance, K=K, params=p,
                                          alphas=tuple(group), agent_alpha=group[0] if takes_alpha else None,
                                          hyper=_hyper(args), setting=label))
    return jobs


def _subsample(n: int, m: int = 200) -> np.ndarray:
    if n <= m:
        return np.arange(n)
    idx = np.unique(np.round(np.geomspace(1, n, m)).astype(int) - 1)
    return idx


def _akey(a: float) -> str:
    return f"{a:g}"


# ------------------------------------------------------------------------------------------------
def regret_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m provable regret``; ``argv`` excludes the word ``regret``."""
    import sys

    argv = list(sys.argv[2:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    return _regret(args, argv)


@cli_main(PROG)
def _regret(args: Any, argv: Sequence[str] | None) -> int:
    params = _instance_params(args)
    k_tuned = "K" in instance_params(args.instance)
    if args.K_grid and (args.sweep != "K"):
        raise ValueError("--K-grid only applies to --sweep K")
    if args.values and args.sweep == "K":
        raise ValueError("--values only applies to --sweep d or --sweep H")
    if args.backend == "ray" and not (args.ray_address or os.environ.get("RAY_ADDRESS")):
        import importlib.util

        if importlib.util.find_spec("ray") is None or not __import__("ray").is_initialized():
            raise ValueError("--backend ray needs an existing Ray cluster: pass --ray-address or set RAY_ADDRESS")
    if args.K_grid and not k_tuned:
        raise ValueError(f"--K-grid only applies to K-tuned instances (hard); instance {args.instance!r} "
                         "is run once for --K episodes and its curve is read at every K")
    jobs = _jobs(args, params, k_tuned)
    from provable.harness.run import split_seed
    from simulators import make_instance

    for key in {(j.instance, tuple(sorted(j.params.items()))) for j in jobs}:  # fail early, in this process
        make_instance(key[0], seed=split_seed(args.seed)[0], **dict(key[1]))
    out = fresh_output_dir(args.out) if args.out else new_run_dir("runs", f"regret-{args.sweep}")
    t0 = time.time()
    res = run_jobs(jobs, backend=args.backend, workers=args.workers, ray_address=args.ray_address,
                   progress=not args.no_progress)
    wall = time.time() - t0
    report = _assemble(args, argv, params, k_tuned, jobs, res, wall, out)
    _print_checks(report, out)
    return 0


def _assemble(args: Any, argv: Sequence[str] | None, params: dict[str, Any], k_tuned: bool,
              jobs: list[RunConfig], res: list[dict[str, Any]], wall: float, out: Path) -> dict[str, Any]:
    d_feat, H = res[0]["d"], res[0]["H"]
    results: dict[str, Any] = {}
    compact: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    figs: list[str] = []
    stem = args.name or {"K": "regret_scaling", "d": "regret_vs_d", "H": "regret_vs_H"}[args.sweep]
    if len(args.alpha) > 1 and args.name is None and args.sweep == "K":
        stem = "regret_alpha"
    # group: algo -> alpha -> seed -> list of (setting, result)
    groups: dict[str, dict[float, dict[int, list[tuple[dict[str, Any], dict[str, Any]]]]]] = {}
    for job, r in zip(jobs, res):
        for a in job.alphas:
            groups.setdefault(job.algo, {}).setdefault(a, {}).setdefault(job.seed, []).append((job.setting, r))
    curves_K: dict[float, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    curves_var: dict[float, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for algo, per_alpha in groups.items():
        results[algo], compact[algo] = {}, {}
        for a, per_seed in per_alpha.items():
            ak = _akey(a)
            results[algo][ak], compact[algo][ak] = {}, {}
            rows = []
            xs: np.ndarray | None = None
            for seed, items in sorted(per_seed.items()):
                items = sorted(items, key=lambda it: list(it[0].values())[0])
                if args.sweep == "K" and not k_tuned:
                    setting, r = items[0]
                    cr = r["cum_regret"][a]
                    idx = _subsample(len(cr))
                    grid = np.array(sorted({k for k in _octaves(len(cr), n=64, lo=1) if k >= 8} | {len(cr)}))
                    entry = {"K": np.arange(1, len(cr) + 1), "cum_regret": cr,
                             "n_switches": r["n_switches"], "agent_seconds": float(r["agent_time"].sum()),
                             "agent_seconds_per_episode": r["agent_time"],
                             "v_star": r["v_star"][a], "config_hash": r["config_hash"],
                             "env_hash": r["env_hash"]}
                    comp = {"K": (idx + 1), "cum_regret": cr[idx], "n_switches": r["n_switches"],
                            "agent_seconds": float(r["agent_time"].sum())}
                    xs = grid
                    rows.append(cr[grid - 1])
                else:
                    var = args.sweep
                    x = np.array([it[0][var] for it in items], dtype=float)
                    finals = np.array([it[1]["cum_regret"][a][-1] for it in items])
                    last = items[-1][1]
                    cr = last["cum_regret"][a]
                    idx = _subsample(len(cr))
                    entry = {var: x, "cum_regret": finals,
                             "n_switches": [it[1]["n_switches"] for it in items],
                             "agent_seconds": [float(it[1]["agent_time"].sum()) for it in items],
                             "v_star": [it[1]["v_star"][a] for it in items],
                             "config_hash": [it[1]["config_hash"] for it in items],
                             "env_hash": [it[1]["env_hash"] for it in items],
                             f"curve_at_{var}={x[-1]:g}": cr}
                    comp = {var: x, "cum_regret": finals,
                            f"curve_at_{var}={x[-1]:g}": {"k": idx + 1, "cum_regret": cr[idx]}}
                    xs = x
                    rows.append(finals)
                results[algo][ak][str(seed)] = entry
                compact[algo][ak][str(seed)] = comp
            assert xs is not None
            R = np.vstack(rows)
            if args.sweep == "K":
                curves_K.setdefault(a, {})[algo] = (xs, R)
                checks.append(growth.slope_check(algo, xs, R, d_feat, H, a, B=args.bootstrap, seed=args.seed))
                if a == 1.0 or algo.startswith("icvar"):
                    B = np.asarray(bounds.bound_shape(algo, d_feat, H, xs, a), dtype=float)
                    checks.append(growth.ratio_check(algo, xs, R, B, d_feat, H,
                                                     bounds.BOUND_NAME.get(algo, "d H sqrt(T)"), a))
            else:
                curves_var.setdefault(a, {})[algo] = (xs, R)
                theorem = bounds.EXPONENTS.get(algo, bounds.EXPONENTS["lower"])[args.sweep]
                checks.append(growth.exponent_check(algo, args.sweep, xs, R, theorem, args.K, a,
                                                    B=args.bootstrap, seed=args.seed))
    shown = {k: v for k, v in res[0]["config"]["params"].items() if k != "K"}
    shown.setdefault("d", d_feat - 1 if args.instance == "hard" else d_feat)
    shown.setdefault("H", H)
    if args.sweep != "K":
        shown.pop(args.sweep, None)
    desc = ", ".join(f"{k}={v}" for k, v in shown.items())
    inst_desc = f"{args.instance} ({desc})" + (" K-tuned: rebuilt per K" if k_tuned and args.sweep == "K" else "")
    fig_dir = Path(args.figures)
    where = out  # drawn once in the run folder, then copied to the figures folder
    if args.sweep == "K":
        if len(args.alpha) > 1:
            per_algo = {algo: {a: curves_K[a][algo] for a in curves_K if algo in curves_K[a]}
                        for algo in args.algo}
            figs.append(str(plots.plot_alpha(where / f"{stem}.png", per_algo, d_feat, H,
                                             f"{inst_desc}; seeds={args.seeds}")))
            for a in args.alpha:
                figs.append(str(plots.plot_regret_vs_K(where / f"{stem}_K_alpha{_akey(a)}.png",
                                                       curves_K[a], d_feat, H,
                                                       f"{inst_desc}, alpha={a:g}", a)))
        else:
            a = args.alpha[0]
            figs.append(str(plots.plot_regret_vs_K(
                where / f"{stem}.png", curves_K[a], d_feat, H,
                f"{inst_desc}; d_feat={d_feat}, H={H}, seeds={args.seeds}, preset={args.preset}, "
                f"bonus_scale={args.bonus_scale if args.bonus_scale is not None else 1}")))
    else:
        for a, cv in curves_var.items():
            suffix = "" if len(curves_var) == 1 else f"_alpha{_akey(a)}"
            figs.append(str(plots.plot_scaling(where / f"{stem}{suffix}.png", args.sweep, cv, args.K,
                                               f"{inst_desc}; K={args.K}, alpha={a:g}, seeds={args.seeds}")))
    fig_dir.mkdir(parents=True, exist_ok=True)
    for f in list(figs):
        figs.append(str(shutil.copy2(f, fig_dir / Path(f).name)))
    meta = {
        "command": command_line(["regret", *(argv or [])], "provable"),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds": wall,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "backend": args.backend,
                    "workers": args.workers},
        "config": {"algo": args.algo, "instance": args.instance, "params": params, "k_tuned": k_tuned,
                   "K": args.K, "sweep": args.sweep, "seeds": args.seeds, "seed": args.seed,
                   "bonus_scale": args.bonus_scale, "preset": args.preset, "alpha": args.alpha,
                   "values": args.values, "d_feat": d_feat, "H": H},
        "growth_checks": checks,
        "figures": figs,
        "run_folder": str(out),
    }
    write_json(out / "results.json", {**meta, "results": results})
    write_json(fig_dir / f"{stem}.json", {**meta, "results": compact})
    return {**meta}


def _print_checks(report: dict[str, Any], out: Path) -> None:
    checks = report["growth_checks"]
    print(f"\nGrowth checks ({report['config']['instance']}, sweep {report['config']['sweep']}):")
    print(f"{'check':<12} {'algo':<16} {'alpha':>5}  {'value':>9}  {'threshold':>9}  verdict")
    for c in checks:
        if c["check"] == "slope":
            val, thr = c["slope"], c["envelope"]
        elif c["check"] == "bound_ratio":
            val, thr = c["ratio_slope"], c["tolerance"]
        else:
            val, thr = c["exponent"], c["theorem"] + c["tolerance"]
        print(f"{c['check']:<12} {c['algo']:<16} {c['alpha']:>5g}  {val:>9.3f}  {thr:>9.3f}  "
              f"{'holds' if c['holds'] else 'DOES NOT HOLD'}")
    for c in checks:
        print(" - " + c["statement"])
    print(f"results: {out / 'results.json'}")
    for f in report["figures"]:
        print(f"figure: {f}")
