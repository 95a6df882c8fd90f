"""Wall-clock speed of exported sparse inference vs the masked dense network (sparse spec §1.9, E-S).

    python benchmarks/bench_sparse_export.py --seed 0                 # threads 1 and 2, batch 1 and 256
    python benchmarks/bench_sparse_export.py --threads 2 --blocks 400 --clock cpu --out runs/bench_sparse_export

Cases, all measured in one run, the modules' calls interleaved in ``--blocks`` blocks of about ``--block-us``
µs each (as many calls as fill it, so slow and fast modules are equally exposed to preemption; the order
rotated from block to block); each time is the fastest block mean (on a machine loaded by other jobs, the
block least disturbed by them; ``--stat median`` for the median block; ``--clock cpu`` for process CPU time,
a load-robust proxy with one thread):
- ``layer256``: one ``nn.Linear(256, 256)`` with a uniform random mask at sparsity S (E-S's setting);
- ``td3_actor``: the RLx2 TD3 actor (``deeprl.rlx2.networks.DeterministicActor``, HalfCheetah sizes
  17→256→256→6, ReLU, ``bias + scale·tanh``) masked by the engine with ER at global sparsity S (the hidden
  layer then carries ~94% / ~97% sparsity, the input layer ~45% / ~70%, the output layer none).
For threads in ``--threads`` (torch and Numba set alike), S in {0.90, 0.95} and batch in {1, 256}:
- dense: the masked dense module;
- fused: the forced fused export (``FusedSparseMLP``: CSR, feature-major activations, one Numba call per
  MLP; rows split over the threads at batch ≥ 16 when threads > 1); serial: the same, single-threaded;
- CSR: the forced per-layer ``torch.sparse_csr`` export;
- auto: ``export_sparse_inference`` at that batch size and thread count (fused, parallel or serial, where its
  export-time micro-benchmark beat dense; else per layer the fastest of dense / torch CSR / Numba CSR);
as µs/call and speed-ups over dense, with the 1-minute load average at each row. Targets (E-S): ≥1.5× at
90% and ≥2× at 95% for the 256×256 layer at batch 256 with 2 threads; batch 1: no regression above 5%.
Results go to a fresh folder (``results.json``, with each auto export's report) with the command line and
the machine load, never overwriting an earlier run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deeprl.rlx2.networks import DeterministicActor  # noqa: E402
from deeprl.sparse import SparseGroup, SparseTrainer, export_sparse_inference  # noqa: E402
from deeprl.sparse.export import time_calls  # noqa: E402
from deeprl.sparse.fused import FusedSparseMLP, set_num_threads  # noqa: E402
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


def td3_actor(sparsity: float, seed: int) -> nn.Module:
    """RLx2 TD3 actor for HalfCheetah (obs 17, action 6), ER-masked by the engine at global sparsity S."""
    torch.manual_seed(seed)
    actor = DeterministicActor(17, 6, -np.ones(6), np.ones(6))
    opt = torch.optim.SGD(actor.parameters(), lr=0.0)
    SparseTrainer(SparseGroup("actor", actor, sparsity, distribution="er"), opt, seed=seed).remove_hooks()
    return actor


@cli_main(PROG)
def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = CliParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=csv_of(positive_int), default=[1, 2],
                    help="thread counts (torch and Numba), e.g. 1,2")
    ap.add_argument("--sparsities", type=csv_of(float), default=[0.90, 0.95])
    ap.add_argument("--batches", type=csv_of(positive_int), default=[1, 256])
    ap.add_argument("--blocks", type=positive_int, default=200, help="interleaved timing blocks per module")
    ap.add_argument("--block-us", type=positive_int, default=1000, help="target length of one block, µs")
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
    hdr = (f"{'case':<9} {'S':>4} {'batch':>5} {'thr':>3} {'dense µs':>9} {'fused µs':>9} {'serial µs':>9} "
           f"{'CSR µs':>8} {'auto µs':>8} {'fused x':>7} {'serial x':>8} {'CSR x':>6} {'auto x':>6} {'load1':>5}"
           "  auto formats")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {load0[0]:.2f} {load0[1]:.2f} "
          f"{load0[2]:.2f}, clock={args.clock}, stat={args.stat}, {args.blocks} blocks of ~{args.block_us} µs")
    print(hdr)
    print("-" * len(hdr), flush=True)
    for th in args.threads:
        set_num_threads(th)
        if (torch.get_num_threads(), numba.get_num_threads()) != (th, min(th, numba.config.NUMBA_NUM_THREADS)):
            raise RuntimeError(f"thread counts out of step: torch {torch.get_num_threads()}, "
                               f"numba {numba.get_num_threads()}, wanted {th}")
        for case, build, n_in in (("layer256", layer256, 256), ("td3_actor", td3_actor, 17)):
            for s in args.sparsities:
                dense = build(s, args.seed).eval()
                for b in args.batches:
                    auto = export_sparse_inference(dense, min_sparsity=0.8, batch_size=b, reps=100, clock=args.clock)
                    fused = export_sparse_inference(dense, min_sparsity=0.8, batch_size=b, force="fused")
                    serial = export_sparse_inference(dense, min_sparsity=0.8, batch_size=b, force="fused")
                    for m in serial.modules():
                        if isinstance(m, FusedSparseMLP):
                            m.parallel_min_batch = 10**9
                    csr = export_sparse_inference(dense, min_sparsity=0.8, batch_size=b, force="csr")
                    x = torch.randn(b, n_in, generator=torch.Generator().manual_seed(args.seed))
                    with torch.inference_mode():
                        y = dense(x)
                        err = max(float(((m(x) - y).abs() / (1 + y.abs())).max()) for m in (fused, serial, csr, auto))
                    t = time_calls({"dense": lambda d=dense, x=x: d(x), "fused": lambda f=fused, x=x: f(x),
                                    "serial": lambda f=serial, x=x: f(x), "csr": lambda f=csr, x=x: f(x),
                                    "auto": lambda a=auto, x=x: a(x)},
                                   args.blocks, 20, blocks=args.blocks, stat=args.stat, clock=args.clock,
                                   block_us=args.block_us)
                    r = {
                        "case": case, "sparsity": s, "batch": b, "threads": th,
                        "dense_us": t["dense"], "fused_us": t["fused"], "fused_serial_us": t["serial"],
                        "csr_us": t["csr"], "auto_us": t["auto"], "speedup_fused": t["dense"] / t["fused"],
                        "speedup_fused_serial": t["dense"] / t["serial"], "speedup_csr": t["dense"] / t["csr"],
                        "speedup_auto": t["dense"] / t["auto"],
                        "auto_formats": [row["format"] + ("-serial" if row.get("parallel_min_batch", 0) > b >= 16
                                                          and th > 1 else "") for row in auto.export_report],
                        "max_rel_err": err,
                        "auto_report": auto.export_report,
                        "loadavg": os.getloadavg(),
                        "torch_threads_after": torch.get_num_threads(), "numba_threads_after": numba.get_num_threads(),
                    }
                    rows.append(r)
                    print(f"{case:<9} {s:>4.2f} {b:>5d} {th:>3d} {r['dense_us']:>9.1f} {r['fused_us']:>9.1f} "
                          f"{r['fused_serial_us']:>9.1f} {r['csr_us']:>8.1f} {r['auto_us']:>8.1f} "
                          f"{r['speedup_fused']:>7.2f} {r['speedup_fused_serial']:>8.2f} {r['speedup_csr']:>6.2f} "
                          f"{r['speedup_auto']:>6.2f} {r['loadavg'][0]:>5.2f}  "
                          f"{','.join(r['auto_formats'])}", flush=True)
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
