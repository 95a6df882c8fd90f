"""``python -m proofs_checks``: run every lemma check, print the table, write results.json and figures.

Exit code 0 when every check holds, 1 when any fails (its inputs are saved under ``<out>/failures/``
as ``.npz`` cases that :func:`proofs_checks.core.load_case` reads back), 2 on bad arguments.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from proofs_checks.core import CheckResult, format_table, save_case
from simulators.cli_util import CliParser, choice_list, cli_main, command_line, new_run_dir, nonneg_int, write_json


def _registry() -> dict[str, Callable[[np.random.Generator, bool], list[CheckResult]]]:
    from proofs_checks import bellman, concentration, cvar_props, elliptical, optimism

    return {
        "elliptical": lambda rng, quick: elliptical.run(rng, quick, logged=optimism.logged_features(
            int(rng.integers(2**31)), quick)),
        "concentration": concentration.run,
        "cvar": cvar_props.run,
        "bellman": bellman.run,
        "optimism": optimism.run,
    }


GROUPS = ("elliptical", "concentration", "cvar", "bellman", "optimism")


def build_parser() -> CliParser:
    p = CliParser(prog="python -m proofs_checks",
                  description="Numerical checks of the lemmas behind the regret bounds (spec §7).")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of every random input (default 0)")
    p.add_argument("--quick", action="store_true", help="smaller inputs (seconds instead of minutes)")
    p.add_argument("--only", type=choice_list(GROUPS), default=list(GROUPS),
                   help=f"comma-separated subset of {','.join(GROUPS)} (default: all)")
    p.add_argument("--out", default="runs/proofs_checks",
                   help="folder for results.json and failing cases; each run gets a new sub-folder")
    p.add_argument("--figures", default="figures",
                   help="folder for the figures (default figures/); '' to skip figures")
    return p


@cli_main("python -m proofs_checks")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run_dir = new_run_dir(args.out, "quick" if args.quick else "full")
    registry = _registry()
    results: list[CheckResult] = []
    timings = {}
    for i, name in enumerate(args.only):
        t0 = time.perf_counter()
        rng = np.random.default_rng([args.seed, i])
        results += registry[name](rng, args.quick)
        timings[name] = time.perf_counter() - t0
        print(f"[{name}] {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    print(format_table(results))
    failed = [r for r in results if not r.holds]
    cases = [str(save_case(r, run_dir / "failures")) for r in failed]
    figures: list[str] = []
    if args.figures:
        from proofs_checks import figures as figs

        fdir = Path(args.figures)
        fdir.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([args.seed, 99])
        figures.append(str(figs.elliptical_figure(fdir / "proofs_elliptical_potential.png", rng,
                                                  K=500 if args.quick else 5000)))
        figures.append(str(figs.coverage_figure(fdir / "proofs_coverage_vs_delta.png", rng,
                                                N=300 if args.quick else 2000, T=300 if args.quick else 3000)))
    write_json(run_dir / "results.json", {
        "command": command_line(argv, "proofs_checks"),
        "seed": args.seed,
        "quick": args.quick,
        "all_hold": not failed,
        "n_checks": len(results),
        "n_failed": len(failed),
        "seconds": timings,
        "rows": [r.as_row() for r in results],
        "failure_cases": cases,
        "figures": figures,
    })
    print(f"\n{len(results) - len(failed)}/{len(results)} checks hold; results in {run_dir / 'results.json'}")
    if failed:
        print("FAILED: " + "; ".join(f"{r.lemma} [{r.inputs}]" for r in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
