"""``python -m deeprl mast``: train QMIX / WQMIX / RES, dense or sparse, with MAST's parts switchable.

Examples::

    python -m deeprl mast --task lbf --steps 500000 --seed 0                 # MAST-QMIX, 90% sparse
    python -m deeprl mast --preset dense --task spread --seeds 0,1,2 --workers 2   # dense QMIX, 3 seeds
    python -m deeprl mast --preset rigl --no-dual-buffer ...                 # RigL-QMIX (+ any override)
    python -m deeprl mast --resume runs/mast/qmix-lbf-mast-seed0             # continue a run
    python -m deeprl mast --seeds 0,1,2,3,4 --backend ray --ray-address auto # on an existing Ray cluster

``--preset`` picks the E-M1 arm (``mast``: RigL + Soft Mellowmax + hybrid TD(lambda) + dual buffer;
``rigl``: RigL-QMIX; ``static``: static sparse; ``dense``: dense QMIX); the part flags override it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulators.cli_util import (
    CliParser,
    cli_main,
    command_line,
    csv_of,
    new_run_dir,
    nonneg_int,
    positive_float,
    positive_int,
    probability,
)

PROG = "python -m deeprl mast"


def build_parser() -> CliParser:
    from deeprl.mast.config import ALGORITHMS, INPUT_SCALES, PRESETS, TOPOLOGIES
    from deeprl.mast.td_lambda import HYBRID_ORDERS

    p = CliParser(prog=PROG, description=__doc__.split("\n\n")[0],
                  formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    g = p.add_argument_group("run")
    g.add_argument("--algorithm", choices=ALGORITHMS, default="qmix", help="base learner (default qmix)")
    g.add_argument("--task", default="lbf", help="lbf | lbf-hard | spread | rware | a Foraging-...-v3 / "
                   "rware-...-v2 id | smax-3m | smax-2s3z | smax-3s5z (extra [smax]) (default lbf)")
    g.add_argument("--preset", choices=PRESETS, default="mast", help="E-M1 arm (default mast)")
    g.add_argument("--steps", type=positive_int, default=500_000, help="environment steps (default 5e5)")
    g.add_argument("--seed", type=nonneg_int, default=0, help="seed (default 0)")
    g.add_argument("--seeds", type=csv_of(nonneg_int), default=None, help="several seeds, e.g. 0,1,2 "
                   "(run in parallel processes; overrides --seed)")
    g.add_argument("--workers", type=positive_int, default=None, help="parallel processes for --seeds "
                   "(default: number of seeds, at most the CPU count)")
    g.add_argument("--backend", choices=("local", "ray"), default="local", help="where multi-seed runs go")
    g.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local one)")
    g.add_argument("--threads", type=positive_int, default=None, help="torch threads per run "
                   "(default: 1 for multi-seed runs, torch's default otherwise)")
    g.add_argument("--out", default="runs/mast", help="parent folder of run folders (never overwritten)")
    g.add_argument("--name", default=None, help="run folder name (default <algorithm>-<task>-<preset>-seed<N>)")
    g.add_argument("--resume", default=None, metavar="RUN_DIR", help="resume the newest checkpoint of RUN_DIR")
    g.add_argument("--stop-after", type=positive_int, default=None, help="checkpoint and stop once this many "
                   "steps are done (to split a run across jobs; --resume continues it)")
    g.add_argument("--device", default="cpu", help="torch device (cpu; cuda written the standard way)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--no-tensorboard", action="store_true", help="CSV log only")

    m = p.add_argument_group("MAST parts (default: from --preset)")
    m.add_argument("--topology", choices=TOPOLOGIES, default=None, help="dense | static | rigl")
    m.add_argument("--sparsity", type=probability, default=0.9, help="global sparsity of every network "
                   "(agent, mixer incl. hypernetworks, central nets) (default 0.9)")
    m.add_argument("--soft-mellowmax", action=argparse.BooleanOptionalAction, default=None,
                   help="Soft Mellowmax in the targets, eq. (34)")
    m.add_argument("--hybrid-td", action=argparse.BooleanOptionalAction, default=None,
                   help="hybrid TD(lambda) targets, eqs. (35)-(36)")
    m.add_argument("--dual-buffer", action=argparse.BooleanOptionalAction, default=None,
                   help="dual replay buffer, eq. (37)")

    h = p.add_argument_group("hyperparameters (defaults: spec sparse.md §3, §5.6)")
    h.add_argument("--omega", type=positive_float, default=10.0)
    h.add_argument("--alpha", type=float, default=None, help="Soft Mellowmax alpha (default = omega)")
    h.add_argument("--hybrid-order", choices=HYBRID_ORDERS, default="onestep_first")
    h.add_argument("--t0-frac", type=probability, default=0.1, help="T_0 as a fraction of training")
    h.add_argument("--td-lambda", type=probability, default=0.6)
    h.add_argument("--capacity-on", type=positive_int, default=32, help="B_on size in episodes")
    h.add_argument("--rho", type=probability, default=0.5, help="fraction of each batch from B_on")
    h.add_argument("--buffer-size", type=positive_int, default=5000, help="B_off size in episodes")
    h.add_argument("--batch-size", type=positive_int, default=32, help="episodes per batch")
    h.add_argument("--gamma", type=probability, default=0.99)
    h.add_argument("--optimizer", choices=("adam", "rmsprop"), default="adam")
    h.add_argument("--lr", type=positive_float, default=None, help="default 1e-3 (adam) / 5e-4 (rmsprop)")
    h.add_argument("--eps-anneal-steps", type=positive_int, default=50_000)
    h.add_argument("--target-update-episodes", type=positive_int, default=200)
    h.add_argument("--mask-update-episodes", type=positive_int, default=200, help="RigL interval (optimizer "
                   "steps = full-length episodes)")
    h.add_argument("--zeta0", type=probability, default=0.5, help="initial drop fraction (cosine)")
    h.add_argument("--wqmix-variant", choices=("ow", "cw"), default="ow")
    h.add_argument("--wqmix-alpha", type=probability, default=None, help="default 0.5 (ow) / 0.1 (cw)")
    h.add_argument("--res-beta", type=positive_float, default=0.05)
    h.add_argument("--res-lambda", type=float, default=0.05)
    h.add_argument("--no-standardise-rewards", action="store_true")
    h.add_argument("--no-time-limit-bootstrap", action="store_true",
                   help="cut the target at a time-limit end as at a terminal state (default: bootstrap)")
    h.add_argument("--input-scale", choices=INPUT_SCALES, default="none",
                   help="'bounds': divide observations and state by their spaces' bounds (our choice)")
    h.add_argument("--eval-interval", type=positive_int, default=10_000)
    h.add_argument("--eval-episodes", type=positive_int, default=20)
    h.add_argument("--checkpoint-interval", type=positive_int, default=50_000)
    h.add_argument("--log-interval", type=positive_int, default=2_000)
    return p


def config_from_args(a: argparse.Namespace, seed: int) -> Any:
    from deeprl.mast.config import MastConfig

    over: dict[str, Any] = {
        "algorithm": a.algorithm, "task": a.task, "steps": a.steps, "seed": seed, "device": a.device,
        "sparsity": a.sparsity, "omega": a.omega, "alpha": a.alpha, "hybrid_order": a.hybrid_order,
        "t0_frac": a.t0_frac, "td_lambda": a.td_lambda, "capacity_on": a.capacity_on, "rho": a.rho,
        "buffer_size": a.buffer_size, "batch_size": a.batch_size, "gamma": a.gamma, "optimizer": a.optimizer,
        "lr": a.lr if a.lr is not None else (1e-3 if a.optimizer == "adam" else 5e-4),
        "eps_anneal_steps": a.eps_anneal_steps, "target_update_episodes": a.target_update_episodes,
        "mask_update_episodes": a.mask_update_episodes, "zeta0": a.zeta0, "wqmix_variant": a.wqmix_variant,
        "wqmix_alpha": a.wqmix_alpha if a.wqmix_alpha is not None else (0.5 if a.wqmix_variant == "ow" else 0.1),
        "res_beta": a.res_beta, "res_lambda": a.res_lambda, "standardise_rewards": not a.no_standardise_rewards,
        "time_limit_bootstrap": not a.no_time_limit_bootstrap,
        "input_scale": a.input_scale,
        "eval_interval": a.eval_interval, "eval_episodes": a.eval_episodes,
        "checkpoint_interval": a.checkpoint_interval, "log_interval": a.log_interval,
    }
    for flag in ("topology", "soft_mellowmax", "hybrid_td", "dual_buffer"):
        if getattr(a, flag) is not None:
            over[flag] = getattr(a, flag)
    return MastConfig.preset(a.preset, **over)


def _run_one(cfg_dict: dict[str, Any], run_dir: str, resume: bool, stop_after: int | None, progress: bool,
             tensorboard: bool, command: str, threads: int | None) -> dict[str, Any]:
    """One run (also the body of a worker process / Ray task)."""
    import torch

    from deeprl.mast.config import MastConfig
    from deeprl.mast.train import train

    if threads is not None:
        torch.set_num_threads(threads)
    summary = train(MastConfig.from_dict(cfg_dict), run_dir, resume=resume, stop_after=stop_after,
                    progress=progress, tensorboard=tensorboard, command=command)
    return {"run_dir": run_dir, **{k: summary.get(k) for k in ("score", "success_rate", "train_flops_ratio",
                                                               "inference_flops_ratio", "density/all",
                                                               "stopped_at")}}


def _report(res: dict[str, Any]) -> None:
    if res.get("stopped_at") is not None:
        print(f"{res['run_dir']}: stopped at {res['stopped_at']} steps (resume with --resume {res['run_dir']})")
        return
    parts = [f"score {res['score']:.4g}"]
    if res.get("success_rate") is not None:
        parts.append(f"success {res['success_rate']:.3f}")
    parts += [f"density {res['density/all']:.3f}", f"train-FLOPs ratio {res['train_flops_ratio']:.3f}",
              f"inference-FLOPs ratio {res['inference_flops_ratio']:.3f}"]
    print(f"{res['run_dir']}: " + ", ".join(parts))


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = command_line(argv, "deeprl mast")
    progress, tb = not args.no_progress, not args.no_tensorboard
    if args.resume is not None:
        run_dir = Path(args.resume)
        if not run_dir.is_dir():
            raise FileNotFoundError(f"--resume {run_dir} is not a run folder")
        from deeprl.common import latest_checkpoint

        if latest_checkpoint(run_dir) is None:
            raise FileNotFoundError(f"--resume {run_dir} holds no checkpoint")
        _report(_run_one({}, str(run_dir), True, args.stop_after, progress, tb, command, args.threads))
        return 0
    from simulators.marl import make_marl_env

    make_marl_env(args.task)  # validates --task early (ValueError -> one line, exit 2)
    seeds = args.seeds if args.seeds is not None else [args.seed]
    cfgs = [config_from_args(args, s) for s in seeds]
    dirs = [str(new_run_dir(args.out, args.name if args.name and len(seeds) == 1 else
                            f"{args.name or f'{c.algorithm}-{c.task}-{args.preset}'}-seed{c.seed}"))
            for c in cfgs]
    if len(cfgs) == 1 and args.backend == "local":
        _report(_run_one(cfgs[0].to_dict(), dirs[0], False, args.stop_after, progress, tb, command, args.threads))
        return 0
    threads = args.threads or 1
    jobs = [(c.to_dict(), d, False, args.stop_after, False, tb, command, threads) for c, d in zip(cfgs, dirs)]
    if args.backend == "ray":
        import ray

        ray.init(address=args.ray_address, ignore_reinit_error=True, log_to_driver=False)
        remote = ray.remote(num_cpus=threads)(_run_one)
        results = ray.get([remote.remote(*j) for j in jobs])
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        workers = args.workers or min(len(jobs), os.cpu_count() or 1)
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as ex:
            results = list(ex.map(_run_one, *zip(*jobs)))
    for r in results:
        _report(r)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
