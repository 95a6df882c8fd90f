"""MST spec §7: the reduced protocol on 2 CPU cores. Dense vs MST (and RigL-constant, ablations) on the
``cpu`` configuration, the same token budget, several seeds; validation loss against cumulative
training FLOPs (figure) and a table (final validation loss, loss ratio and FLOPs ratio to dense).

    python benchmarks/mst_cpu.py --estimate                 # measure s/iteration, print projected time
    python benchmarks/mst_cpu.py --seeds 0,1 --variants dense,mst,rigl
    python benchmarks/mst_cpu.py --smoke                    # tiny config, fixture data, 40 iterations

Runs are sequential, in-process, each in ``<out>/<variant>/`` with its own ``result.json``; re-running
with the same ``--out`` skips finished runs and resumes interrupted ones from their checkpoints.
Variants: ``dense``, ``mst`` (spec defaults), ``rigl`` (constant ER sparsity chosen by the FLOPs counter
so that its predicted ratio equals MST's, §7 run 3), ``mst-nohsa``, ``mst-nosv`` (constant 0.9, HSA on),
``mst-sf0``, ``mst-global`` (one cosine drop fraction over [0, T) instead of the per-phase restarts:
the restart at t_r drops the weights restoration has just regrown at zero; same FLOPs as ``mst``),
``mst-cubic`` (cubic warm-up shape), ``mst-densehead`` (tied embedding/LM head not masked) and
``dense-matched`` (⌈ratio·T⌉ iterations, lr schedule compressed, §7 run 5). ``rigl`` and ``dense-matched``
match the default ``mst``'s FLOPs; the ``mst-*`` variants report their own FLOPs ratio (the table's
column), so a variant that spends more is compared at what it spends.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deeprl.mst.attention import HSAConfig  # noqa: E402
from deeprl.mst.configs import get_config  # noqa: E402
from deeprl.mst.flops import linear_shapes, predicted_ratio  # noqa: E402
from deeprl.mst.schedule import phase_bounds, sparsity_target  # noqa: E402
from deeprl.mst.train import TrainConfig, build_run  # noqa: E402
from deeprl.sparse import ErdosRenyi  # noqa: E402
from simulators.cli_util import CliParser, choice_list, csv_of, new_run_dir, nonneg_int, positive_int, write_json  # noqa: E402

VARIANTS = ("dense", "mst", "rigl", "mst-nohsa", "mst-nosv", "mst-sf0", "mst-global", "mst-cubic", "mst-densehead",
            "dense-matched")


def mst_predicted_ratio(config: str, steps: int, vocab: int) -> tuple[float, float]:
    """(MST's predicted FLOPs ratio, the constant RigL sparsity with the same ratio), eqs. (16)-(19)."""
    mcfg, rec = get_config(config)
    mcfg = mcfg.with_vocab(vocab)
    shapes = linear_shapes(mcfg)
    er = ErdosRenyi()

    def dens(s: float) -> dict[str, float]:
        return er.densities(shapes, s)

    t_w, t_r = phase_bounds(steps, 0.10, 0.75)
    hsa = HSAConfig("sparse", rec.hsa_w or mcfg.block_size // 8, (t_w, t_r))
    target = predicted_ratio(mcfg, steps, rec.delta_t, sparsity_target("mst", steps), dens, hsa)
    lo, hi = 0.0, 0.99
    for _ in range(40):  # the ratio decreases with S: bisection
        mid = (lo + hi) / 2
        r = predicted_ratio(mcfg, steps, rec.delta_t, lambda t, s=mid: s, dens, None)
        lo, hi = (mid, hi) if r > target else (lo, mid)
    return target, round((lo + hi) / 2, 4)


def variant_config(name: str, base: dict, steps: int, mst_ratio: float, rigl_s: float) -> TrainConfig:
    kw = dict(base, steps=steps)
    if name == "dense":
        kw["method"] = "dense"
    elif name == "dense-matched":
        kw.update(method="dense", steps=math.ceil(mst_ratio * steps))
    elif name == "mst":
        kw["method"] = "mst"
    elif name == "rigl":
        kw.update(method="rigl", sparsity=rigl_s)
    elif name == "mst-nohsa":
        kw.update(method="mst", hsa=False)
    elif name == "mst-nosv":
        kw.update(method="mst", sv=False)
    elif name == "mst-sf0":
        kw.update(method="mst", sf=0.0)
    elif name == "mst-global":  # the spec's other drop-fraction option (§3.4): same FLOPs, no restart at t_r
        kw.update(method="mst", drop_schedule="global")
    elif name == "mst-cubic":  # the spec's other warm-up shape g (§3.5): fast early prunes, gentle last ones
        kw.update(method="mst", warmup_shape="cubic")
    elif name == "mst-densehead":  # option mask_lm_head=False (spec §3.1): the tied embedding/LM head stays dense
        kw.update(method="mst", mask_lm_head=False)
    else:
        raise ValueError(f"variant {name!r} is not one of {', '.join(VARIANTS)}")
    return TrainConfig(**kw)


def run_one(cfg: TrainConfig, out: Path) -> dict:
    """Train (or resume, or reuse) the run of ``cfg`` under ``out``."""
    run_dir = out / f"{cfg.config}-{cfg.method}-seed{cfg.seed}"
    if (run_dir / "result.json").exists():
        return json.loads((run_dir / "result.json").read_text())
    if run_dir.exists() and any((run_dir / "checkpoints").glob("step_*.pt")):
        run = build_run(cfg, resume=run_dir)
    else:
        run = build_run(cfg, out=out)
    return run.train()


def estimate(base: dict, steps: int, n_iter: int = 20) -> dict[str, float]:
    """Seconds per iteration of dense and MST over ``n_iter`` iterations (the first 3 discarded)."""
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("dense", "mst"):
            cfg = TrainConfig(**dict(base, method=method, steps=steps, progress=False, tensorboard=False))
            run = build_run(cfg, out=Path(tmp))
            times = []
            for _ in range(n_iter):
                times.append(run.train_iteration()["dt"])
            out[method] = statistics.median(times[3:])
    return out


def summarise(results: dict[str, dict[int, dict]], figure: Path, table_path: Path, title: str = "") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dense = results.get("dense", {})
    lines = ["| variant | seed | final val loss | loss / dense | FLOPs ratio | FLOPs ratio (no head) | "
             "final density | wall time (min) |", "|---|---|---|---|---|---|---|---|"]
    agg = ["", "| variant | seeds | val loss (mean ± std) | loss ratio (mean ± std) | FLOPs ratio | reduction |",
           "|---|---|---|---|---|---|"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, by_seed in results.items():
        losses, ratios, fl = [], [], []
        for seed, r in sorted(by_seed.items()):
            lr = r["final_val_loss"] / dense[seed]["final_val_loss"] if seed in dense else float("nan")
            # FLOPs against the full dense run of the same seed (eq. (19); for dense-matched: fewer iterations)
            fr = r["flops_total"] / dense[seed]["flops_total"] if seed in dense else r["flops_ratio"]
            lines.append(f"| {name} | {seed} | {r['final_val_loss']:.4f} | {lr:.4f} | {fr:.3f} | "
                         f"{r['flops_ratio_nohead']:.3f} | {r['final_density']:.3f} | {r['wall_time_s'] / 60:.1f} |")
            losses.append(r["final_val_loss"])
            ratios.append(lr)
            fl.append(fr)
            xs = [h["flops"] for h in r["history"]]
            ys = [h["val_loss"] for h in r["history"]]
            ax.plot(xs, ys, label=f"{name} s{seed}", alpha=0.8)
        sd = statistics.stdev(losses) if len(losses) > 1 else 0.0
        rsd = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
        agg.append(f"| {name} | {len(losses)} | {statistics.mean(losses):.4f} ± {sd:.4f} | "
                   f"{statistics.mean(ratios):.4f} ± {rsd:.4f} | {statistics.mean(fl):.3f} | "
                   f"{1 / statistics.mean(fl):.2f}x |")
    ax.set_xscale("log")
    ax.set_xlabel("cumulative training FLOPs (MST spec eqs. 16-18)")
    ax.set_ylabel("validation loss (nats/char)")
    ax.set_title(title or "MST vs dense (MST spec §7)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=120)
    table = "\n".join(lines + agg) + "\n"
    table_path.write_text(table)
    figure.with_suffix(".md").write_text(table)  # the table travels with the figure
    return table


def main(argv: list[str] | None = None) -> int:
    p = CliParser(prog="python benchmarks/mst_cpu.py", description=__doc__,
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", type=choice_list(VARIANTS), default=["dense", "mst", "rigl"])
    p.add_argument("--seeds", type=csv_of(nonneg_int), default=[0, 1, 2])
    p.add_argument("--steps", type=positive_int, default=None, help="iterations (default: the config's 3000)")
    p.add_argument("--config", default="cpu")
    p.add_argument("--data", default="shakespeare")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None, help="benchmark folder (default: a new runs/mst_cpu[-N])")
    p.add_argument("--figure", default=str(ROOT / "figures" / "mst_cpu.png"))
    p.add_argument("--threads", type=positive_int, default=2)
    p.add_argument("--eval-interval", type=positive_int, default=None,
                   help="iterations between validation points of the curves (default: the config's 150)")
    p.add_argument("--estimate", action="store_true", help="measure s/iteration and print the projected time")
    p.add_argument("--smoke", action="store_true", help="tiny config, fixture data, 40 iterations (CI)")
    p.add_argument("--summarise-only", action="store_true",
                   help="only tabulate the finished runs under --out (no training)")
    ns = p.parse_args(argv)
    torch.set_num_threads(ns.threads)
    config, data, steps = ns.config, ns.data, ns.steps
    if ns.smoke:
        config, data = "tiny", "fixture"
    steps = steps or get_config(config)[1].iterations
    base = dict(config=config, data=data, data_dir=ns.data_dir, eval_iters=50 if not ns.smoke else 4,
                eval_batch_size=16 if not ns.smoke else 4, train_eval_iters=0, progress=not ns.smoke,
                eval_interval=ns.eval_interval,
                sample_tokens=200)
    if ns.estimate:
        sec = estimate(base, steps)
        runs = len(ns.seeds) * len(ns.variants)
        evals = steps // get_config(config)[1].eval_interval + 1
        for m, s in sec.items():
            print(f"{config}: {m}: {s:.3f} s/iteration (median of iterations 4-20), "
                  f"{get_config(config)[1].batch_size * get_config(config)[0].block_size / s:.0f} tokens/s")
        per_run = statistics.mean(sec.values()) * (steps + evals * 50 / 3)
        print(f"projected: {runs} runs x {steps} iterations ~ {runs * per_run / 3600:.1f} h "
              f"({per_run / 60:.0f} min per run incl. {evals} evaluations of 50 batches)")
        return 0
    from deeprl.mst.data import load_corpus, prepare

    vocab = load_corpus(prepare(data, ns.data_dir)).vocab_size
    mst_ratio, rigl_s = mst_predicted_ratio(config, steps, vocab)
    print(f"predicted MST FLOPs ratio {mst_ratio:.3f}; RigL-constant sparsity at that ratio: {rigl_s}")
    out = Path(ns.out) if ns.out else new_run_dir(ROOT / "runs", "mst_cpu")
    results: dict[str, dict[int, dict]] = {}
    t0 = time.time()
    for seed in ns.seeds:
        for v in ns.variants:
            if v.startswith("mst-") and seed != ns.seeds[0]:
                continue  # ablations: first seed only (§7 run 4)
            cfg = variant_config(v, dict(base, seed=seed), steps, mst_ratio, rigl_s)
            if ns.summarise_only:
                done = out / v / f"{cfg.config}-{cfg.method}-seed{seed}" / "result.json"
                if not done.exists():
                    continue
            res = run_one(cfg, out / v)
            results.setdefault(v, {})[seed] = res
            print(f"{v} seed {seed}: val {res['final_val_loss']:.4f}, FLOPs ratio {res['flops_ratio']:.3f}, "
                  f"{res['wall_time_s'] / 60:.1f} min", flush=True)
    figure = Path(ns.figure) if not ns.smoke else out / "mst_smoke.png"
    tokens = steps * get_config(config)[1].batch_size * get_config(config)[0].block_size
    table = summarise(results, figure, out / "table.md",
                      f"config {config}: {steps} iterations ({tokens / 1e6:.2f} M tokens), seeds {ns.seeds}")
    write_json(out / "summary.json", {"command": " ".join(["python benchmarks/mst_cpu.py", *(argv or sys.argv[1:])]),
                                      "mst_predicted_ratio": mst_ratio, "rigl_sparsity": rigl_s,
                                      "wall_time_s": time.time() - t0,
                                      "results": {v: {s: {k: r[k] for k in ("final_val_loss", "flops_ratio",
                                                                           "flops_ratio_nohead", "final_density",
                                                                           "wall_time_s", "run_dir")}
                                                      for s, r in by.items()} for v, by in results.items()}})
    print(table)
    print(f"figure: {figure}; table: {out / 'table.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
