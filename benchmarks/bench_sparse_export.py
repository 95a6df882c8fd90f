"""Wall-clock speed of exported sparse inference vs the masked dense network (sparse spec §1.9, E-S).

    python benchmarks/bench_sparse_export.py --threads 2 --seed 0
    python benchmarks/bench_sparse_export.py --threads 1,2 --reps 400 --out runs/bench_sparse_export

Cases, all measured in one run with dense and sparse calls interleaved in blocks; each time is the fastest
block mean (the least-disturbed estimate on a shared machine; ``--stat median`` for the median):
- ``layer256``: one ``nn.Linear(256, 256)`` with a uniform random mask at sparsity S (E-S's setting);
- ``actor``: a HalfCheetah-sized TD3 actor 17→256→256→6 (ReLU, tanh) masked by the engine with ER at global
  sparsity S (the hidden layer then carries ~94% / ~97% sparsity, the thin layers less).
For S in {0.90, 0.95} and batch in {1, 256}: dense µs/call, forced ``torch.sparse_csr`` and forced Numba-CSR
µs/call, and the auto-selected export (per layer the fastest of dense / CSR / Numba at that batch size in its
export-time micro-benchmark) with its speedup. Targets (E-S):
≥1.5× at 90% and ≥2× at 95% for the 256×256 layer at batch 256 with 2 threads; batch 1: no regression
above 5% (the auto-selection keeps the dense layer when CSR is slower). Results go to a fresh folder
(``results.json``) with the command line and the machine load, never overwriting an earlier run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deeprl.sparse import SparseGroup, SparseTrainer, export_sparse_inference  # noqa: E402
from deeprl.sparse.export import time_calls  # noqa: E402
from simulators.cli_util import (  # noqa: E402
    CliParser,
    cli_main,
    command_line,
    csv_of,
    new_run_dir,
    positive_int,
    write_json,
)

PROG = "benchmarks/bench_sparse_export.py"


def layer256(sparsity: float, seed: int) -> nn.Module:
    """One 256×256 Linear with exactly round((1−S)·N) random active weights."""
    torch.manual_seed(seed)
    lin = nn.Linear(256, 256)
    opt = torch.optim.SGD(lin.parameters(), lr=0.0)
    SparseTrainer(SparseGroup("layer", lin, sparsity, distribution="uniform"), opt, seed=seed).remove_hooks()
    return lin


def actor(sparsity: float, seed: int) -> nn.Module:
    """HalfCheetah TD3 actor, ER-masked by the engine at global sparsity S."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(17, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 6), nn.Tanh())
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    SparseTrainer(SparseGroup("actor", net, sparsity, distribution="er"), opt, seed=seed).remove_hooks()
    return net


@cli_main(PROG)
def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = CliParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=csv_of(positive_int), default=[2], help="torch threads, e.g. 1,2")
    ap.add_argument("--sparsities", type=csv_of(float), default=[0.90, 0.95])
    ap.add_argument("--batches", type=csv_of(positive_int), default=[1, 256])
    ap.add_argument("--reps", type=positive_int, default=300, help="timed calls per measurement")
    ap.add_argument("--blocks", type=positive_int, default=20, help="interleaved timing blocks")
    ap.add_argument("--stat", choices=("min", "median"), default="min", help="block statistic")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall-clock (default) or process CPU time (load-robust proxy, meaningful with 1 thread)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/bench_sparse_export", help="results folder (a fresh subfolder)")
    args = ap.parse_args(argv)
    for s in args.sparsities:
        if not 0.0 <= s < 1.0:
            raise ValueError(f"--sparsities entries must be in [0, 1), got {s}")
    rows = []
    t0 = time.time()
    load0 = os.getloadavg()
    for th in args.threads:
        torch.set_num_threads(th)
        for case, build, n_in in (("layer256", layer256, 256), ("actor", actor, 17)):
            for s in args.sparsities:
                dense = build(s, args.seed).eval()
                for b in args.batches:
                    auto = export_sparse_inference(dense, min_sparsity=0.5, batch_size=b, reps=100, clock=args.clock)
                    csr = export_sparse_inference(dense, min_sparsity=0.5, batch_size=b, force="csr")
                    nb = export_sparse_inference(dense, min_sparsity=0.5, batch_size=b, force="numba")
                    x = torch.randn(b, n_in, generator=torch.Generator().manual_seed(args.seed))
                    with torch.inference_mode():
                        y = dense(x)
                        err = max(float((m(x) - y).abs().max()) for m in (csr, nb, auto))
                    t = time_calls({"dense": lambda d=dense, x=x: d(x), "csr": lambda f=csr, x=x: f(x),
                                     "numba": lambda f=nb, x=x: f(x), "auto": lambda a=auto, x=x: a(x)},
                                    args.reps, max(10, args.reps // 10), blocks=args.blocks, stat=args.stat,
                                    clock=args.clock)
                    rows.append({
                        "case": case, "sparsity": s, "batch": b, "threads": th,
                        "dense_us": t["dense"], "csr_us": t["csr"], "numba_us": t["numba"], "auto_us": t["auto"],
                        "speedup_csr": t["dense"] / t["csr"], "speedup_numba": t["dense"] / t["numba"],
                        "speedup_auto": t["dense"] / t["auto"],
                        "auto_formats": [r["format"] for r in auto.export_report], "max_abs_err": err,
                    })
    hdr = (f"{'case':<9} {'S':>5} {'batch':>5} {'thr':>3} {'dense µs':>9} {'CSR µs':>8} {'numba µs':>8} "
           f"{'auto µs':>8} {'CSR x':>6} {'numba x':>7} {'auto x':>6}  auto formats")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['case']:<9} {r['sparsity']:>5.2f} {r['batch']:>5d} {r['threads']:>3d} {r['dense_us']:>9.1f} "
              f"{r['csr_us']:>8.1f} {r['numba_us']:>8.1f} {r['auto_us']:>8.1f} {r['speedup_csr']:>6.2f} "
              f"{r['speedup_numba']:>7.2f} {r['speedup_auto']:>6.2f}  {','.join(r['auto_formats'])}")
    out = new_run_dir(args.out, "run")
    write_json(
        out / "results.json",
        {
            "command": command_line(argv, "benchmarks.bench_sparse_export").replace(
                "python -m benchmarks.bench_sparse_export", f"python {PROG}"
            ),
            "torch": torch.__version__,
            "loadavg_before": load0,
            "loadavg_after": os.getloadavg(),
            "cpu_count": os.cpu_count(),
            "seconds": time.time() - t0,
            "rows": rows,
        },
    )
    print(f"\nload average before/after: {load0[0]:.2f} / {os.getloadavg()[0]:.2f}; results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
