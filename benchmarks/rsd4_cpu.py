"""RSD4 vs its ablations and the model-based baselines on one scheduling system (RSD4 spec §5).

Trains RSD4, RTD3, SD3, TD3 and RSD4 with the oracle multiplier fixed (``rsd4-oracle``: lambda* of V_open
when the channel is hidden, of V_full when it is observed) for ``--episodes`` episodes and ``--seeds``
seeds, two runs in parallel (one torch thread each), and evaluates the baselines on the same instance and
the same ``--eval-episodes`` evaluation episodes (default 20; seeds 10**9 + k, paired with the learners'
final evaluation): V_full (packet DP, channel observed: the optimum), V_open (channel-blind reference),
drift-plus-penalty (channel-blind when hidden), EDF and uniform energy. Prints a table (mean over seeds with
a bootstrap 95% CI), checks the targets T2-T5 of spec §5, and writes results.json, table.md and a figure
(throughput against V_full, energy against the budget) to a fresh folder under ``--out`` (and, for a full
run, the figure and the table to ``figures/rsd4_cpu_<obs>_rho<rho>_<episodes>ep_<dual>_wd<weight decay>.*``,
so runs at another budget or with other settings never overwrite them).

Energy is reported for every method and every run: energy per slot, E/E_b (mean and worst seed), and
how many seeds meet E <= E_b and E <= 1.05 E_b; a throughput target counts only if every run of the
methods it compares spends <= 1.05 E_b, and T5 requires it of every dual-updated run. Learners use the
lambda rule of :mod:`deeprl.rsd4.dual` chosen by ``--dual`` (default ``calibrate``: lambda-conditioned
training and bisection on validation episodes; ``ascent``: eqs. (17a)-(17b)) and the weight decay of
``--weight-decay`` (default 1e-4; the code's 0.1 with ``ascent`` reproduces the earlier comparison);
``rsd4-oracle`` (lambda fixed at lambda*) is the only run that knows lambda*. ``--resume RUN_DIR``
continues an interrupted benchmark folder.

    OMP_NUM_THREADS=1 python benchmarks/rsd4_cpu.py --smoke            # N = 2, 30 episodes, < few min
    OMP_NUM_THREADS=1 python benchmarks/rsd4_cpu.py --seeds 0,1,2 --episodes 1000 --rho 0.9   # spec §5

The spec §5 budget (the default: 1,000 episodes x 3 seeds x 5 variants) does not fit one CPU core in an
hour. Measured cost, CPU seconds per training episode at these settings with one torch thread
(episodes after the 10^4-step random phase; random-phase / evaluation episodes cost 0.02-0.17 s):
RSD4 1.34, SD3 0.95, RTD3 0.34, TD3 0.07 (K = 50 target samples make the softmax variants dear); the
baselines take ~5 s. So the default needs ~5.8 h on one core (~2.9 h with ``--jobs 2``).

The reduced CPU budget: 300 episodes (100 random + 200 learning), seeds 0, 1, 2, all five variants,
one process, ~46 min of CPU on one idle core (estimate 3 x (1.34 + 0.34 + 0.95 + 0.07 + 1.34) x 200
s of learning + ~5.5 min of random-phase, evaluation and baseline episodes):

    OMP_NUM_THREADS=1 python benchmarks/rsd4_cpu.py --seeds 0,1,2 --episodes 300 --jobs 1 --rho 0.9

Measured: with ``--jobs 2`` on an idle 2-core machine that run takes ≈ 30 min of wall-clock time.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cli_util import (  # noqa: E402
    CliParser,
    choice_list,
    csv_of,
    new_run_dir,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
    probability,
    write_json,
)

VARIANTS = ("rsd4", "rtd3", "sd3", "td3", "rsd4-oracle")
EVAL_EPISODES = 20  # the default of --eval-episodes (the figures/ tables of earlier runs used it)
# drift-plus-penalty's V grid: the spec's {1, 10, 100, 1000} (§3.3) extended by 3000 and 10^4 [ours], since
# on 'bench' the spec's best V is its largest for the blind and the belief variant alike; a heuristic tuned
# at the edge of its grid would flatter the learners (README; tables before this change used the spec's grid)
DPP_GRID = (1.0, 10.0, 100.0, 1000.0, 3000.0, 10_000.0)


def _run_one(job: dict) -> dict:
    """Train one (variant, seed); a finished run is read back, an interrupted one resumes (``--resume``)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from deeprl.common import latest_checkpoint
    from deeprl.rsd4 import RSD4Config
    from deeprl.rsd4.train import read_summary, resume, train

    run_dir = Path(job["run_dir"])
    cfg = RSD4Config(**job["cfg"])
    saved = run_dir / "config.json"
    if saved.exists():  # a run read back or resumed must be the run this job asks for
        asked = cfg.to_dict()
        diff = {k: (v, asked.get(k)) for k, v in json.loads(saved.read_text()).items()
                if k != "threads" and asked.get(k) != v}
        if diff:
            raise ValueError(f"{run_dir} was made with other settings (saved, asked): {diff}")
    if (run_dir / "summary.json").exists():
        summary = read_summary(run_dir)
    elif latest_checkpoint(run_dir) is not None:
        summary = resume(run_dir, progress=False)
    else:
        summary = train(cfg, run_dir, progress=False)
    scale = float(summary.get("energy_scale", 1.0))
    print(f"  {job['label']} seed {cfg.seed}: throughput {summary['throughput']:.4f}, energy/slot "
          f"{summary['energy_per_slot']:.3f} (E_b {summary['budget']:.3f}), lambda {summary['lambda']:.4f}"
          f"{f', energy scale {scale:.3f}' if scale != 1.0 else ''}, {summary['seconds']:.0f} s", flush=True)
    return {"label": job["label"], "seed": cfg.seed, **{k: summary[k] for k in
            ("throughput", "energy_per_slot", "lambda", "seconds", "policy")},
            "energy_scale": scale}


def run_jobs(jobs: list[dict], n_jobs: int) -> list[dict]:
    """Run :func:`_run_one` on every job, in this process or in ``n_jobs`` worker processes (job order kept)."""
    if n_jobs == 1:
        return [_run_one(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(_run_one, jobs))


def bootstrap_ci(x: np.ndarray, rng: np.random.Generator, n: int = 2000) -> tuple[float, float]:
    if x.size < 2:
        return float(x.mean()), float(x.mean())
    means = rng.choice(x, size=(n, x.size), replace=True).mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def baselines(inst, partial: bool, seed: int, episodes: int = EVAL_EPISODES) -> tuple[list[dict], dict]:
    from deeprl.rsd4.train import EVAL_SEED
    from simulators.scheduling.evaluation import evaluate, tune_dpp, tune_edf, tuned_uniform
    from simulators.scheduling.optimal import PacketTablePolicy, optimal_full_info, solve_open_loop

    full = optimal_full_info(inst)
    op = solve_open_loop(inst, starts=8, seed=seed, rel_tol=1e-6)
    dpps = [tune_dpp(inst, Vs=DPP_GRID, slots=10_000, seed=seed, channel=ch)[0]
            for ch in (("blind", "belief") if partial else ("observed",))]
    edf, _ = tune_edf(inst, episodes=10, seed=seed)
    rows = []
    for name, pol, obs in (("V_full (DP, channel observed)", PacketTablePolicy(full), True),
                           ("V_open (channel-blind DP)", PacketTablePolicy(op, "V_open"), False),
                           *[(d.name, d, d.needs_channel) for d in dpps], (edf.name, edf, False),
                           ("uniform", tuned_uniform(inst), False)):
        r = evaluate(pol, inst, episodes, EVAL_SEED, partial=not obs)
        rows.append({"label": name, "throughput": r.throughput, "energy_per_slot": r.energy,
                     "observes_channel": obs})
    refs = {"v_full": full.throughput, "v_full_lam": full.lam_star, "v_open": op.throughput,
            "v_open_lam": op.lam_star}
    return rows, refs


def add_lambda_rule_args(ap: CliParser) -> None:
    """The options of the calibrate rule and the split critic, shared with rsd4_sweep.py (defaults:
    RSD4Config's; the range, search and margin act with ``--dual calibrate`` only)."""
    from deeprl.rsd4.config import CALIBRATE_SEARCHES, RSD4Config

    d = RSD4Config()
    ap.add_argument("--calibrate-range", type=positive_float, default=d.calibrate_range,
                    help="with --dual calibrate: lambda on [0, RANGE x lambda_max] (default %(default)s)")
    ap.add_argument("--calibrate-search", choices=CALIBRATE_SEARCHES, default=d.calibrate_search,
                    help="with --dual calibrate: bisection or grid search on lambda (default %(default)s)")
    ap.add_argument("--calibrate-margin", type=nonneg_float, default=d.calibrate_margin,
                    help="with --dual calibrate: hold mean + MARGIN x SE of validation energy to E_b "
                         "(default %(default)s)")
    ap.add_argument("--calibrate-mix", action="store_true",
                    help="with --dual calibrate: mix the bracket's two lambdas per episode (Beutler-Ross)")
    ap.add_argument("--calibrate-throttle", action="store_true",
                    help="with --dual calibrate: if lambda_max overspends, scale the policy's energies to E_b")
    ap.add_argument("--split-critic", action="store_true",
                    help="critics output (Q_S, Q_E), combined as Q_S - lambda Q_E (deeprl.rsd4.agent)")


def lambda_rule_config(args) -> dict:
    """RSD4Config fields of :func:`add_lambda_rule_args`'s options."""
    return dict(calibrate_range=args.calibrate_range, calibrate_search=args.calibrate_search,
                calibrate_margin=args.calibrate_margin, calibrate_mix=args.calibrate_mix,
                calibrate_throttle=args.calibrate_throttle,
                split_critic=args.split_critic)


def lambda_rule_tags(args, dual: str) -> list[str]:
    """Name parts of the options that differ from the defaults: range<r>, the search, margin<k> (calibrate
    only), split; run folders and figure names carry them so runs of different settings never collide."""
    from deeprl.rsd4 import RSD4Config

    d, tags = RSD4Config(), []
    if dual == "calibrate":
        if args.calibrate_range != d.calibrate_range:
            tags.append(f"range{args.calibrate_range:g}")
        if args.calibrate_search != d.calibrate_search:
            tags.append(args.calibrate_search)
        if args.calibrate_margin != d.calibrate_margin:
            tags.append(f"margin{args.calibrate_margin:g}")
        if args.calibrate_mix:
            tags.append("mix")
        if args.calibrate_throttle:
            tags.append("throttle")
    if args.split_critic:
        tags.append("split")
    return tags


def protocol_tags(args) -> list[str]:
    """Name parts of the learning/evaluation options that differ from the defaults (gamma<g>, random<n>,
    outcomes, eval<k>), so a figure of another protocol never overwrites one in figures/."""
    from deeprl.rsd4 import RSD4Config

    d, tags = RSD4Config(), []
    if args.gamma is not None and args.gamma != d.gamma:
        tags.append(f"gamma{args.gamma:g}")
    if args.random_steps is not None and args.random_steps != d.random_steps:
        tags.append(f"random{args.random_steps}")
    if args.outcome_features:
        tags.append("outcomes")
    if args.eval_episodes != EVAL_EPISODES:
        tags.append(f"eval{args.eval_episodes}")
    return tags


def main(argv: list[str] | None = None) -> int:
    ap = CliParser(prog="rsd4_cpu", description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=csv_of(nonneg_int), default=[0, 1, 2])
    ap.add_argument("--episodes", type=positive_int, default=1000, help="training episodes per run (H = 100 slots)")
    ap.add_argument("--variants", type=choice_list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--rho", type=probability, default=0.9)
    ap.add_argument("--observe-channel", action="store_true", help="full observation (default: hidden)")
    ap.add_argument("--instance-seed", type=nonneg_int, default=0)
    ap.add_argument("--dual", choices=("calibrate", "ascent"), default=None,
                    help="lambda rule of the learners (default: the config's, calibrate; deeprl.rsd4.dual)")
    ap.add_argument("--weight-decay", type=nonneg_float, default=None,
                    help="weight decay of every learner (default: the config's, 1e-4; the code's is 0.1)")
    add_lambda_rule_args(ap)
    ap.add_argument("--eval-episodes", type=positive_int, default=EVAL_EPISODES,
                    help="fresh episodes every learner's final policy and every baseline is scored on "
                         "(default %(default)s)")
    ap.add_argument("--gamma", type=probability, default=None,
                    help="discount of every learner (default: the config's, 0.99)")
    ap.add_argument("--random-steps", type=nonneg_int, default=None,
                    help="random-action steps before learning (default: the config's, 10^4)")
    ap.add_argument("--outcome-features", action="store_true",
                    help="every learner also sees the last slot's revealed successes/failures per counter "
                         "(RSD4Config.outcome_features; ours)")
    ap.add_argument("--jobs", type=positive_int, default=2, help="parallel training processes")
    ap.add_argument("--smoke", action="store_true", help="N = 2, 30 episodes, 1 seed: checks the pipeline")
    ap.add_argument("--out", default="runs/rsd4_cpu")
    ap.add_argument("--resume", default=None, metavar="RUN_DIR",
                    help="continue an interrupted benchmark folder (same arguments): finished runs are read "
                         "back, interrupted ones resume from their checkpoints")
    args = ap.parse_args(argv)
    from deeprl.rsd4 import RSD4Config
    from deeprl.rsd4.train import build_env

    partial = not args.observe_channel
    defaults = RSD4Config()
    dual = defaults.dual if args.dual is None else args.dual
    wd = defaults.weight_decay if args.weight_decay is None else args.weight_decay
    base = dict(preset="bench", rho=args.rho, partial=partial, instance_seed=args.instance_seed,
                episodes=args.episodes, eval_every=max(1, args.episodes // 20), checkpoint_every=50,
                dual=dual, weight_decay=wd, final_eval_episodes=args.eval_episodes, **lambda_rule_config(args))
    for name in ("gamma", "random_steps"):
        if getattr(args, name) is not None:
            base[name] = getattr(args, name)
    if args.outcome_features:
        base["outcome_features"] = True
    seeds = args.seeds
    if args.smoke:
        base.update(n_users=2, episodes=30, eval_every=10, random_steps=1000, batch_size=16, n_samples=10)
        seeds = seeds[:1]
    inst = build_env(RSD4Config(**base)).instance
    if args.resume is not None:
        out = Path(args.resume)
        if not out.is_dir():
            ap.error(f"--resume {out} is not a benchmark folder (it must exist)")
    else:
        name = f"{'partial' if partial else 'full'}-rho{args.rho}" + ("-smoke" if args.smoke else "")
        out = new_run_dir(args.out, name)
    print(f"instance {inst.describe()}\nrun folder {out}", flush=True)
    base_rows, refs = baselines(inst, partial, args.instance_seed, args.eval_episodes)
    oracle_lam = refs["v_open_lam"] if partial else refs["v_full_lam"]
    jobs = []
    for v in args.variants:
        for s in seeds:
            cfg = dict(base, variant="rsd4" if v == "rsd4-oracle" else v, seed=s)
            if v == "rsd4-oracle":
                cfg.update(dual="fixed", lam0=oracle_lam)
            jobs.append({"label": v, "cfg": cfg, "run_dir": str(out / f"{v}-s{s}")})
    results = run_jobs(jobs, args.jobs)
    budget = inst.budget
    rng = np.random.default_rng(0)
    table = []
    for v in args.variants:
        rs = [r for r in results if r["label"] == v]
        tp = np.array([r["throughput"] for r in rs])
        en = np.array([r["energy_per_slot"] for r in rs])
        table.append({"label": v, "throughput": float(tp.mean()), "ci": bootstrap_ci(tp, rng),
                      "energy_per_slot": float(en.mean()), "worst_energy_per_slot": float(en.max()),
                      "runs_within_budget": int((en <= budget).sum()),
                      "runs_within_5pct": int((en <= 1.05 * budget).sum()),
                      "lambda": float(np.mean([r["lambda"] for r in rs])), "seeds": len(rs), "learned": True})
    for r in base_rows:
        e = r["energy_per_slot"]
        table.append({**r, "ci": (r["throughput"], r["throughput"]), "worst_energy_per_slot": e,
                      "runs_within_budget": int(e <= budget), "runs_within_5pct": int(e <= 1.05 * budget),
                      "lambda": float("nan"), "seeds": 1, "learned": False})
    lines = [f"Energy budget E_b = {budget:.3f} per slot. 'E <= E_b' / 'E <= 1.05 E_b' count the runs (seeds) "
             "whose evaluated energy per slot meets the budget exactly / within the spec's 5% tolerance; "
             "'worst E/E_b' is the largest over seeds.", "",
             "| method | seeds | throughput | 95% CI | / V_full | / V_open | energy/slot | E/E_b (mean) | "
             "worst E/E_b | E <= E_b | E <= 1.05 E_b | lambda |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        n = r["seeds"]
        lam = "-" if not np.isfinite(r["lambda"]) else f"{r['lambda']:.4f}"
        lines.append(f"| {r['label']} | {n} | {r['throughput']:.4f} | [{r['ci'][0]:.4f}, {r['ci'][1]:.4f}] | "
                     f"{r['throughput'] / refs['v_full']:.3f} | {r['throughput'] / refs['v_open']:.3f} | "
                     f"{r['energy_per_slot']:.3f} | {r['energy_per_slot'] / budget:.3f} | "
                     f"{r['worst_energy_per_slot'] / budget:.3f} | {r['runs_within_budget']}/{n} | "
                     f"{r['runs_within_5pct']}/{n} | {lam} |")
    lines += ["", f"Every learned run ({args.eval_episodes} evaluation episodes each):", "",
              "| run | seed | throughput | energy/slot | E/E_b | constraint E <= E_b | lambda (energy scale c "
              "if throttled) | policy | seconds |",
              "|---|---|---|---|---|---|---|---|---|"]
    def throttled(r: dict) -> str:
        c = r.get("energy_scale", 1.0)
        return f" (c {c:.3f})" if c != 1.0 else ""

    for r in results:
        ok = "holds" if r["energy_per_slot"] <= budget else (
            "VIOLATED (within 5%)" if r["energy_per_slot"] <= 1.05 * budget else "VIOLATED")
        lines.append(f"| {r['label']} | {r['seed']} | {r['throughput']:.4f} | {r['energy_per_slot']:.3f} | "
                     f"{r['energy_per_slot'] / budget:.3f} | {ok} | {r['lambda']:.4f}{throttled(r)} | {r['policy']} | "
                     f"{r['seconds']:.0f} |")
    by = {r["label"]: r for r in table}
    checks = []

    def ratio(a, b):
        return by[a]["throughput"] / by[b]["throughput"] if a in by and b in by else float("nan")

    # a method's throughput counts only if every one of its runs spends <= 1.05 E_b (spec §5)
    budget_ok = {k: by[k]["runs_within_5pct"] == by[k]["seeds"] for k in by}

    def check(name: str, ok: bool, *methods: str) -> None:
        """Throughput targets count only when every run of every method involved spends <= 1.05 E_b."""
        valid = all(budget_ok.get(m, True) for m in methods)
        checks.append((name if valid else f"{name} [invalid: a run spends > 1.05 E_b]", ok and valid))

    if "rsd4" in by:
        if partial:
            check("T2 RSD4 >= 0.95 V_open", by["rsd4"]["throughput"] >= 0.95 * refs["v_open"], "rsd4")
        else:
            check("T1 RSD4 >= 0.90 V_full", by["rsd4"]["throughput"] >= 0.90 * refs["v_full"], "rsd4")
        for other, thr in (("sd3", 1.03), ("td3", 1.03), ("rtd3", 1.00)):
            if other in by:
                check(f"T3 RSD4 >= {thr} {other.upper()} (ratio {ratio('rsd4', other):.3f})",
                      ratio("rsd4", other) >= thr, "rsd4", other)
        heur = max(by[k]["throughput"] for k in by if k.startswith(("EDF", "uniform")))
        check("T4 RSD4 >= 1.10 max(EDF, uniform)", by["rsd4"]["throughput"] >= 1.10 * heur, "rsd4")
        # the heuristics (DPP, EDF, uniform; channel-blind under partial observation), then the spec's
        # option of DPP on the HMM-filter belief, which also knows the channel kernel (a model-based reference)
        blind = [k for k in by if k.startswith(("DPP", "EDF", "uniform")) and "belief" not in k]
        if blind:
            best = max(blind, key=lambda k: by[k]["throughput"])
            check(f"RSD4 ahead of every channel-blind heuristic (best: {best}, ratio {ratio('rsd4', best):.3f})",
                  ratio("rsd4", best) > 1.0, "rsd4")
        for k in by:
            if "belief" in k:
                check(f"RSD4 ahead of {k} (HMM filter, knows the kernel; ratio {ratio('rsd4', k):.3f})",
                      ratio("rsd4", k) > 1.0, "rsd4")
        if "rsd4-oracle" in by:
            check(f"T4 dual within 3% of oracle lambda (ratio {ratio('rsd4', 'rsd4-oracle'):.3f})",
                  ratio("rsd4", "rsd4-oracle") >= 0.97, "rsd4", "rsd4-oracle")
    dual_runs = [r for r in results if r["label"] in ("rsd4", "rtd3", "sd3", "td3")]
    if dual_runs:
        n_ok = sum(r["energy_per_slot"] <= 1.05 * budget for r in dual_runs)
        checks.append((f"T5 every dual-updated run spends <= 1.05 E_b ({n_ok}/{len(dual_runs)} runs)",
                       n_ok == len(dual_runs)))
    lines += ["", *[f"- {name}: {'met' if ok else 'NOT met'}" for name, ok in checks]]
    text = "\n".join(lines)
    print(text)
    head = "SMOKE RUN (pipeline check only)\n\n" if args.smoke else ""
    cmd = " ".join(["python", *sys.argv])
    (out / "table.md").write_text(f"{head}Command: `{cmd}`\n\n{text}\n")
    write_json(out / "results.json", {"command": cmd, "instance": inst.describe(), "refs": refs, "table": table,
                                      "runs": results, "checks": [{"name": n, "met": bool(ok)} for n, ok in checks]})
    fig_path = plot(table, results, refs, budget, out / "rsd4_cpu.png", partial, args.rho)
    if not args.smoke:
        Path("figures").mkdir(exist_ok=True)
        stem = f"rsd4_cpu_{'partial' if partial else 'full'}_rho{args.rho}_{args.episodes}ep_{dual}_wd{wd:g}"
        stem += "".join(f"_{t}" for t in lambda_rule_tags(args, dual) + protocol_tags(args))
        if args.variants != list(VARIANTS):
            stem += "_" + "-".join(args.variants)
        shutil.copy(fig_path, Path("figures") / f"{stem}.png")
        shutil.copy(out / "table.md", Path("figures") / f"{stem}.md")
    print(f"wrote {out}")
    return 0


def plot(table: list[dict], runs: list[dict], refs: dict, budget: float, path: Path, partial: bool, rho: float
         ) -> Path:
    """Left: throughput / V_full (bars: mean, whiskers: bootstrap 95% CI, dots: seeds). Right: energy per
    slot / E_b (bars: mean, dots: every seed, so a violating seed shows), with E_b and 1.05 E_b lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["label"] for r in table]
    tp = np.array([r["throughput"] for r in table]) / refs["v_full"]
    lo = tp - np.array([r["ci"][0] for r in table]) / refs["v_full"]
    hi = np.array([r["ci"][1] for r in table]) / refs["v_full"] - tp
    en = np.array([r["energy_per_slot"] for r in table]) / budget
    colors = ["C0" if r["learned"] else "C7" for r in table]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    x = np.arange(len(labels))
    axes[0].bar(x, tp, yerr=[lo, hi], color=colors)
    axes[0].axhline(1.0, color="k", lw=1, ls="--", label="V_full (optimum, channel observed)")
    axes[0].axhline(refs["v_open"] / refs["v_full"], color="C3", lw=1, ls=":", label="V_open")
    axes[0].set_ylabel("throughput / V_full")
    axes[1].bar(x, en, color=colors)
    for i, lab in enumerate(labels):
        pts = [r for r in runs if r["label"] == lab]
        axes[0].plot([i] * len(pts), [r["throughput"] / refs["v_full"] for r in pts], "k.", ms=4)
        axes[1].plot([i] * len(pts), [r["energy_per_slot"] / budget for r in pts], "k.", ms=4)
    axes[1].axhline(1.0, color="k", lw=1, ls="--", label="budget E_b")
    axes[1].axhline(1.05, color="C3", lw=1, ls=":", label="1.05 E_b (spec tolerance)")
    axes[1].set_ylabel("energy per slot / E_b (dots: seeds)")
    for ax in axes:
        ax.set_xticks(x, labels, rotation=45, ha="right")
        ax.legend(fontsize=8)
    fig.suptitle(f"scheduling 'bench', channel {'hidden' if partial else 'observed'}, rho = {rho}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
