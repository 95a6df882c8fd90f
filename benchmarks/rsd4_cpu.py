"""RSD4 vs its ablations and the model-based baselines on one scheduling system (RSD4 spec §5).

Trains RSD4, RTD3, SD3, TD3 and RSD4 with the oracle multiplier fixed (``rsd4-oracle``: lambda* of
V_open when the channel is hidden, of V_full when it is observed) for ``--episodes`` episodes and
``--seeds`` seeds, two runs in parallel (one torch thread each), and evaluates the baselines on the
same instance and the same 20 evaluation episodes (seeds 10**9 + k, paired with the learners' final
evaluation): V_full (packet DP, channel observed: the optimum), V_open (channel-blind reference),
drift-plus-penalty (channel-blind when hidden), EDF and uniform energy. Prints a table (mean over
seeds with a bootstrap 95% CI), checks the targets T2-T5 of spec §5, and writes results.json,
table.md and a figure (throughput against V_full, energy against the budget) to a fresh folder under
``--out`` (and, for a full run, the figure to ``figures/``).

    OMP_NUM_THREADS=1 python benchmarks/rsd4_cpu.py --smoke            # N = 2, 30 episodes, < few min
    OMP_NUM_THREADS=1 python benchmarks/rsd4_cpu.py --seeds 0,1,2 --episodes 1000 --rho 0.9
"""

from __future__ import annotations

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
    nonneg_int,
    positive_int,
    probability,
    write_json,
)

VARIANTS = ("rsd4", "rtd3", "sd3", "td3", "rsd4-oracle")
EVAL_EPISODES = 20


def _run_one(job: dict) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from deeprl.rsd4 import RSD4Config
    from deeprl.rsd4.train import train

    cfg = RSD4Config(**job["cfg"])
    summary = train(cfg, job["run_dir"], progress=False)
    return {"label": job["label"], "seed": cfg.seed, **{k: summary[k] for k in
            ("throughput", "energy_per_slot", "lambda", "seconds")}}


def bootstrap_ci(x: np.ndarray, rng: np.random.Generator, n: int = 2000) -> tuple[float, float]:
    if x.size < 2:
        return float(x.mean()), float(x.mean())
    means = rng.choice(x, size=(n, x.size), replace=True).mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def baselines(inst, partial: bool, seed: int) -> tuple[list[dict], dict]:
    from deeprl.rsd4.train import EVAL_SEED
    from simulators.scheduling.evaluation import evaluate, tune_dpp, tune_edf, tuned_uniform
    from simulators.scheduling.optimal import PacketTablePolicy, optimal_full_info, solve_open_loop

    full = optimal_full_info(inst)
    op = solve_open_loop(inst, starts=8, seed=seed, rel_tol=1e-6)
    dpp, _ = tune_dpp(inst, slots=10_000, seed=seed, channel="blind" if partial else "observed")
    edf, _ = tune_edf(inst, episodes=10, seed=seed)
    rows = []
    for name, pol, obs in (("V_full (DP, channel observed)", PacketTablePolicy(full), True),
                           ("V_open (channel-blind DP)", PacketTablePolicy(op, "V_open"), False),
                           (dpp.name, dpp, dpp.needs_channel), (edf.name, edf, False),
                           ("uniform", tuned_uniform(inst), False)):
        r = evaluate(pol, inst, EVAL_EPISODES, EVAL_SEED, partial=not obs)
        rows.append({"label": name, "throughput": r.throughput, "energy_per_slot": r.energy,
                     "observes_channel": obs})
    refs = {"v_full": full.throughput, "v_full_lam": full.lam_star, "v_open": op.throughput,
            "v_open_lam": op.lam_star}
    return rows, refs


def main(argv: list[str] | None = None) -> int:
    ap = CliParser(prog="rsd4_cpu", description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=csv_of(nonneg_int), default=[0, 1, 2])
    ap.add_argument("--episodes", type=positive_int, default=1000)
    ap.add_argument("--variants", type=choice_list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--rho", type=probability, default=0.9)
    ap.add_argument("--observe-channel", action="store_true", help="full observation (default: hidden)")
    ap.add_argument("--instance-seed", type=nonneg_int, default=0)
    ap.add_argument("--jobs", type=positive_int, default=2, help="parallel training processes")
    ap.add_argument("--smoke", action="store_true", help="N = 2, 30 episodes, 1 seed: checks the pipeline")
    ap.add_argument("--out", default="runs/rsd4_cpu")
    args = ap.parse_args(argv)
    from deeprl.rsd4 import RSD4Config
    from deeprl.rsd4.train import build_env

    partial = not args.observe_channel
    base = dict(preset="bench", rho=args.rho, partial=partial, instance_seed=args.instance_seed,
                episodes=args.episodes, eval_every=max(1, args.episodes // 10), checkpoint_every=100)
    seeds = args.seeds
    if args.smoke:
        base.update(n_users=2, episodes=30, eval_every=10, random_steps=1000, batch_size=16, n_samples=10)
        seeds = seeds[:1]
    inst = build_env(RSD4Config(**base)).instance
    out = new_run_dir(args.out, f"{'partial' if partial else 'full'}-rho{args.rho}" + ("-smoke" if args.smoke else ""))
    print(f"instance {inst.describe()}\nrun folder {out}")
    base_rows, refs = baselines(inst, partial, args.instance_seed)
    oracle_lam = refs["v_open_lam"] if partial else refs["v_full_lam"]
    jobs = []
    for v in args.variants:
        for s in seeds:
            cfg = dict(base, variant="rsd4" if v == "rsd4-oracle" else v, seed=s)
            if v == "rsd4-oracle":
                cfg.update(dual="fixed", lam0=oracle_lam)
            jobs.append({"label": v, "cfg": cfg, "run_dir": str(out / f"{v}-s{s}")})
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_run_one, jobs))
    rng = np.random.default_rng(0)
    table = []
    for v in args.variants:
        rs = [r for r in results if r["label"] == v]
        tp = np.array([r["throughput"] for r in rs])
        en = np.array([r["energy_per_slot"] for r in rs])
        table.append({"label": v, "throughput": float(tp.mean()), "ci": bootstrap_ci(tp, rng),
                      "energy_per_slot": float(en.mean()), "seeds": len(rs), "learned": True})
    for r in base_rows:
        table.append({**r, "ci": (r["throughput"], r["throughput"]), "seeds": 1, "learned": False})
    lines = [f"| method | throughput | 95% CI | energy/slot (E_b = {inst.budget:.3f}) | / V_full | / V_open |",
             "|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['label']} | {r['throughput']:.4f} | [{r['ci'][0]:.4f}, {r['ci'][1]:.4f}] | "
                     f"{r['energy_per_slot']:.3f} | {r['throughput'] / refs['v_full']:.3f} | "
                     f"{r['throughput'] / refs['v_open']:.3f} |")
    by = {r["label"]: r for r in table}
    checks = []

    def ratio(a, b):
        return by[a]["throughput"] / by[b]["throughput"] if a in by and b in by else float("nan")

    budget_ok = {k: by[k]["energy_per_slot"] <= 1.05 * inst.budget for k in by}

    def check(name: str, ok: bool, *methods: str) -> None:
        """Throughput targets count only when every method involved spends <= 1.05 E_b (spec §5)."""
        valid = all(budget_ok.get(m, True) for m in methods)
        checks.append((name if valid else f"{name} [invalid: energy > 1.05 E_b]", ok and valid))

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
        if "rsd4-oracle" in by:
            check(f"T4 dual within 3% of oracle lambda (ratio {ratio('rsd4', 'rsd4-oracle'):.3f})",
                  ratio("rsd4", "rsd4-oracle") >= 0.97, "rsd4", "rsd4-oracle")
        checks.append(("T5 RSD4 energy <= 1.05 E_b", budget_ok["rsd4"]))
    lines += ["", *[f"- {name}: {'met' if ok else 'NOT met'}" for name, ok in checks]]
    text = "\n".join(lines)
    print(text)
    (out / "table.md").write_text(f"{'SMOKE RUN (pipeline check only)' if args.smoke else ''}\n{text}\n")
    write_json(out / "results.json", {"command": " ".join(["python", *sys.argv]), "instance": inst.describe(),
                                      "refs": refs, "table": table, "runs": results,
                                      "checks": [{"name": n, "met": bool(ok)} for n, ok in checks]})
    fig_path = plot(table, refs, inst.budget, out / "rsd4_cpu.png", partial, args.rho)
    if not args.smoke:
        Path("figures").mkdir(exist_ok=True)
        shutil.copy(fig_path, Path("figures") / f"rsd4_cpu_{'partial' if partial else 'full'}_rho{args.rho}.png")
    print(f"wrote {out}")
    return 0


def plot(table: list[dict], refs: dict, budget: float, path: Path, partial: bool, rho: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["label"] for r in table]
    tp = np.array([r["throughput"] for r in table]) / refs["v_full"]
    lo = tp - np.array([r["ci"][0] for r in table]) / refs["v_full"]
    hi = np.array([r["ci"][1] for r in table]) / refs["v_full"] - tp
    en = np.array([r["energy_per_slot"] for r in table]) / budget
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(labels))
    axes[0].bar(x, tp, yerr=[lo, hi], color=["C0" if r["learned"] else "C7" for r in table])
    axes[0].axhline(1.0, color="k", lw=1, ls="--", label="V_full (optimum, channel observed)")
    axes[0].axhline(refs["v_open"] / refs["v_full"], color="C3", lw=1, ls=":", label="V_open")
    axes[0].set_ylabel("throughput / V_full")
    axes[1].bar(x, en, color=["C0" if r["learned"] else "C7" for r in table])
    axes[1].axhline(1.0, color="k", lw=1, ls="--", label="budget E_b")
    axes[1].set_ylabel("energy per slot / E_b")
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
