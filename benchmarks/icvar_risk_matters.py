"""Risk matters: a risk-neutral learner's iterated-CVaR regret grows linearly, ICVaR-L's does not (issue 5).

Instance: SafeRisky (spec §2, [ours]): at ``ok``, *safe* gives 0.5 and stays, *risky* gives 1 and dies
with probability p_c. For alpha below alpha_crit(p_c, H) the CVaR-optimal policy plays safe early while
the mean-optimal policy always plays risky; every episode of the mean-optimal policy then costs a fixed
amount of iterated-CVaR value, so a learner that converges to it has linear CVaR regret.

Learners (all from ``provable.agents.ALGORITHMS``, run by the harness's ``run_one``: exact iterated-CVaR
regret from the model, spec eq. (20), never sampled returns):

- ``lsvi-ucb``  risk-neutral LSVI-UCB (spec §3) with the reward known, like ICVaR-L's;
- ``icvar-l``   ICVaR-L (spec §5.3) at the evaluation alpha, practical bonus scale (``--bonus-scale``);
- ``icvar-l (theory)``  ICVaR-L with the theory constant c_F = 1 (``--no-theory`` drops it). Its radius
  beta_F = d sqrt(iota + log(J+1)) keeps the lower CDF near 0 for ~(beta_F / p_c)^2 visits, so at
  feasible K it is still in its burn-in: reported as measured.
- ``icvar-g``  ICVaR-G (spec §5.4) on the perturbation class of ``--M`` models around the true kernel
  (rho = ``--rho``, truth included), theory width (``--no-icvar-g`` drops it). The class is handed to the
  agent through the ``models`` hyper-parameter (the instance does not depend on the seed).

Output: ``figures/icvar_risk_matters.png`` (cumulative CVaR regret against K, median and 10-90% band over
seeds, with the line k * (CVaR regret of the mean-optimal policy)), and results.json in a new run folder.

    python benchmarks/icvar_risk_matters.py [--K 3000] [--seeds 10] [--alpha 0.25] [--seed 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from provable.agents.icvar_g import perturbation_class  # noqa: E402
from provable.harness.run import RunConfig  # noqa: E402
from provable.harness.sweep import run_jobs  # noqa: E402
from simulators import dp, make_instance  # noqa: E402
from simulators.cli_util import (  # noqa: E402
    CliParser,
    cli_main,
    command_line,
    new_run_dir,
    nonneg_float,
    nonneg_int,
    positive_int,
    probability,
    unit_interval,
    write_json,
)
from simulators.instances import safe_risky_alpha_crit  # noqa: E402


def half_slope(c: np.ndarray) -> float:
    """log2(R(K) / R(K/2)): 1 for linear growth, 0.5 for sqrt(K), ~0 once regret has stopped growing."""
    K = len(c)
    a, b = c[K // 2 - 1], c[-1]
    return float(np.log2(b / a)) if a > 0 and b > 0 else 0.0


@cli_main("icvar_risk_matters")
def main(argv: list[str] | None = None) -> int:
    """Run the experiment, print the table, write the figure and results.json."""
    ap = CliParser(prog="icvar_risk_matters", description=__doc__.splitlines()[0])
    ap.add_argument("--K", type=positive_int, default=3000, help="episodes (default 3000)")
    ap.add_argument("--seeds", type=positive_int, default=10, help="seeds per learner (default 10)")
    ap.add_argument("--seed", type=nonneg_int, default=0, help="base seed (runs use seed, seed+1, ...)")
    ap.add_argument("--alpha", type=unit_interval, default=0.25, help="risk level (default 0.25)")
    ap.add_argument("--H", type=positive_int, default=5, help="horizon (default 5)")
    ap.add_argument("--p-c", type=probability, default=0.1, help="death probability of risky (default 0.1)")
    ap.add_argument(
        "--bonus-scale", type=nonneg_float, default=0.03, help="bonus scale of both practical learners (default 0.03)"
    )
    ap.add_argument("--no-theory", action="store_true", help="skip ICVaR-L with theory constants")
    ap.add_argument("--no-icvar-g", action="store_true", help="skip ICVaR-G")
    ap.add_argument("--M", type=positive_int, default=16, help="ICVaR-G class size (default 16)")
    ap.add_argument("--rho", type=nonneg_float, default=0.2, help="ICVaR-G perturbation size (default 0.2)")
    ap.add_argument("--workers", type=positive_int, default=2, help="local worker processes (default 2)")
    ap.add_argument("--out", default=None, help="run folder base (default runs/); a new folder each run")
    ap.add_argument("--figure", default="figures/icvar_risk_matters.png", help="figure path")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    mdp = make_instance("safe-risky", seed=0, H=args.H, p_c=args.p_c)
    a_crit = safe_risky_alpha_crit(args.p_c, args.H)
    if args.alpha >= a_crit:
        raise ValueError(
            f"--alpha must be below alpha_crit(p_c={args.p_c:g}, H={args.H}) = {a_crit:.4f}, "
            f"where the mean- and CVaR-optimal policies differ; got {args.alpha:g}"
        )
    neutral_pi = dp.optimal(mdp, alpha=1.0).pi
    slope_ref = float(dp.regret(mdp, neutral_pi[None], alpha=args.alpha)[0])

    params = dict(H=args.H, p_c=args.p_c)
    learners = {
        "lsvi-ucb (risk-neutral)": ("lsvi-ucb", {"bonus_scale": args.bonus_scale, "reward_known": True}, None),
        "icvar-l": ("icvar-l", {"bonus_scale": args.bonus_scale}, args.alpha),
    }
    if not args.no_theory:
        learners["icvar-l (theory, c_F=1)"] = ("icvar-l", {"bonus_scale": 1.0}, args.alpha)
    if not args.no_icvar_g:
        if args.rho <= 0.0:
            raise ValueError(f"--rho must be positive, got {args.rho:g}")
        models = perturbation_class(mdp.P, M=args.M, rho=args.rho, seed=args.seed)
        learners[f"icvar-g (M={args.M}, rho={args.rho:g})"] = ("icvar-g", {"models": models}, args.alpha)
    jobs, labels = [], []
    for label, (algo, hyper, agent_alpha) in learners.items():
        for s in range(args.seed, args.seed + args.seeds):
            jobs.append(
                RunConfig(
                    algo=algo,
                    seed=s,
                    instance="safe-risky",
                    K=args.K,
                    params=params,
                    alphas=(args.alpha,),
                    agent_alpha=agent_alpha,
                    hyper=hyper,
                )
            )
            labels.append(label)
    results = run_jobs(jobs, workers=args.workers, progress=not args.no_progress)

    curves = {
        label: np.array([r["cum_regret"][args.alpha] for r, lab in zip(results, labels) if lab == label])
        for label in learners
    }
    K = np.arange(1, args.K + 1)
    summary = {}
    print(
        f"SafeRisky H={args.H} p_c={args.p_c:g}, alpha={args.alpha:g} (alpha_crit={a_crit:.4f}), K={args.K}, "
        f"seeds={args.seeds}; mean-optimal policy's CVaR regret per episode = {slope_ref:.4f}"
    )
    print(
        f"{'learner':26s} {'R(K/4)':>9s} {'R(K/2)':>9s} {'R(K)':>9s} {'log2 R(K)/R(K/2)':>17s} "
        f"{'last-10% regret/ep':>19s}"
    )
    for label, C in curves.items():
        med = np.median(C, axis=0)
        tail = float(np.median((C[:, -1] - C[:, -args.K // 10 - 1]) / (args.K // 10)))
        row = {
            "R_K_over_4": float(med[args.K // 4 - 1]),
            "R_K_over_2": float(med[args.K // 2 - 1]),
            "R_K": float(med[-1]),
            "R_K_p10": float(np.percentile(C[:, -1], 10)),
            "R_K_p90": float(np.percentile(C[:, -1], 90)),
            "log2_R_K_over_R_K_half": half_slope(med),
            "last_decile_regret_per_episode": tail,
        }
        summary[label] = row
        print(
            f"{label:26s} {row['R_K_over_4']:9.1f} {row['R_K_over_2']:9.1f} {row['R_K']:9.1f} "
            f"{row['log2_R_K_over_R_K_half']:17.2f} {tail:19.4f}"
        )

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {label: ("C3" if label.startswith("lsvi") else "C1" if label.startswith("icvar-g")
                      else "C2" if "theory" in label else "C0") for label in curves}
    for ax, log in zip(axes, (False, True)):
        for label, C in curves.items():
            med = np.median(C, axis=0)
            lo, hi = np.percentile(C, 10, axis=0), np.percentile(C, 90, axis=0)
            ls = "--" if "theory" in label else "-"
            ax.plot(K, med, color=colors[label], ls=ls, label=label)
            ax.fill_between(K, lo, hi, color=colors[label], alpha=0.2)
        ax.plot(K, slope_ref * K, color="k", ls=":", lw=1, label=f"k x {slope_ref:.3f} (mean-optimal policy)")
        ax.set_xlabel("episodes K")
        ax.grid(True, which="both", alpha=0.3)
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(
                bottom=max(
                    1e-2, 0.5 * min(float(np.median(C, axis=0)[C.shape[1] // 100]) for C in curves.values()) + 1e-9
                )
            )
            ax.set_title("log-log", fontsize=9)
        else:
            ax.set_ylabel(f"cumulative iterated-CVaR regret (alpha={args.alpha:g})")
            ax.set_title(
                f"SafeRisky H={args.H}, p_c={args.p_c:g}; median and 10-90% over {args.seeds} seeds", fontsize=9
            )
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig_path = Path(args.figure)
    fig_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(fig_path, dpi=120)
    plt.close(fig)

    out = new_run_dir(args.out or "runs", "icvar_risk_matters")
    cmd = command_line(argv, "benchmarks/icvar_risk_matters.py").replace("python -m ", "python ")
    payload = {
        "command": cmd,
        "config": vars(args),
        "alpha_crit": a_crit,
        "mean_optimal_cvar_regret_per_episode": slope_ref,
        "summary": summary,
        "median_curves": {
            label: np.median(C, axis=0)[:: max(1, args.K // 300)].tolist() for label, C in curves.items()
        },
    }
    write_json(out / "results.json", payload)
    write_json(fig_path.with_suffix(".json"), payload)
    print(f"figure: {fig_path}; results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
