"""Model-based optimum vs heuristics on the scheduling system (RSD4 spec §3, §5).

For each setting it prints one table row per method: analytic value (where one exists) and the
measured weighted throughput / energy per slot in the simulator (``--episodes`` fixed-seed episodes,
evaluation seeds ``seed + 100 + e``), and the ratio to the optimum V_full.

- ``tiny`` (Bernoulli, tau <= 2, N_c = 3): the occupation-measure LP (18)-(21) with L = 5 energy
  levels, equal to the packet DP on the same grid, and the continuous-energy DP V_full;
- ``bench`` (spec §5: N = 4, tau ~ U{1..3}, Poisson A ~ U{1, 2}, N_c = 4) at rho in {0, 0.9}:
  V_full (packet DP, any size), V_open (channel-blind reference, eq. (26)), DPP (best V), EDF (best
  e_fix), uniform energy.

    OMP_NUM_THREADS=1 python benchmarks/scheduling_baselines.py [--seed 0] [--episodes 20] [--out runs/baselines]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cli_util import CliParser, new_run_dir, positive_int, write_json  # noqa: E402
from simulators.scheduling import make_instance  # noqa: E402
from simulators.scheduling.evaluation import evaluate, tune_dpp, tune_edf, tuned_uniform  # noqa: E402
from simulators.scheduling.optimal import (  # noqa: E402
    LPPolicy,
    PacketTablePolicy,
    optimal_full_info,
    solve_lp,
    solve_open_loop,
    uniform_energy_for_budget,
)


def rows_for(inst, episodes: int, seed: int, with_lp: bool) -> list[dict]:
    ev_seed = seed + 100
    full = optimal_full_info(inst)
    rows = []

    def add(name, analytic, pol, partial=False, note=""):
        r = evaluate(pol, inst, episodes, ev_seed, partial=partial)
        rows.append(dict(method=name, observes_channel=not partial, analytic=analytic,
                         throughput=r.throughput, throughput_se=r.throughput_se, energy=r.energy,
                         ratio_to_V_full=r.throughput / full.throughput, note=note))

    if with_lp:
        levels = np.linspace(0, inst.e_max, 5)
        lp = solve_lp(inst, levels, cap=1)
        grid = optimal_full_info(inst, levels)
        add("LP optimum (L=5)", lp.value, LPPolicy(lp), note=f"grid DP {grid.throughput:.6f}, "
            f"lambda* {lp.lam_star:.4f}")
    add("V_full (packet DP)", full.throughput, PacketTablePolicy(full), note=f"lambda* {full.lam_star:.4f}")
    op = solve_open_loop(inst, starts=8, seed=seed, rel_tol=1e-6)
    add("V_open (channel-blind DP)", op.throughput, PacketTablePolicy(op, "V_open"), partial=True)
    dpp, _ = tune_dpp(inst, slots=10_000, seed=seed)
    add(dpp.name, None, dpp)
    dppb, _ = tune_dpp(inst, slots=10_000, seed=seed, channel="blind")
    add(dppb.name, None, dppb, partial=True)
    edf, _ = tune_edf(inst, episodes=10, seed=seed)
    add(edf.name, None, edf, partial=True)
    add(tuned_uniform(inst).name, uniform_energy_for_budget(inst)[1], tuned_uniform(inst), partial=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = CliParser(prog="scheduling_baselines", description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="instance seed (seed1) and tuning seed")
    ap.add_argument("--episodes", type=positive_int, default=20)
    ap.add_argument("--out", default=None, help="folder for results.json (a fresh sub-folder per run)")
    args = ap.parse_args(argv)
    settings = [("tiny", make_instance(args.seed, "tiny", n_channels=3, rho=0.5), True)]
    for rho in (0.0, 0.9):
        settings.append((f"bench rho={rho}", make_instance(args.seed, "bench", rho=rho), False))
    results = {}
    for name, inst, with_lp in settings:
        rows = rows_for(inst, args.episodes, args.seed, with_lp)
        results[name] = {"instance": inst.describe(), "rows": rows}
        print(f"\n== {name}: budget E_b = {inst.budget:.4f}, {args.episodes} eval episodes x {inst.horizon} slots")
        print(f"{'method':<30}{'channel':>8}{'analytic':>10}{'measured TP':>13}{'+-SE':>8}{'energy':>9}"
              f"{'/V_full':>9}  note")
        for r in rows:
            an = "" if r["analytic"] is None else f"{r['analytic']:.4f}"
            print(f"{r['method']:<30}{'yes' if r['observes_channel'] else 'no':>8}{an:>10}"
                  f"{r['throughput']:>13.4f}{r['throughput_se']:>8.4f}{r['energy']:>9.4f}"
                  f"{r['ratio_to_V_full']:>9.3f}  {r['note']}")
    if args.out:
        d = new_run_dir(args.out, "baselines")
        write_json(d / "results.json", {"command": " ".join(["python", *sys.argv]), "results": results})
        print(f"\nwrote {d / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
