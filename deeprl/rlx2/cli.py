"""``python -m deeprl rlx2``: train RLx2 (sparse TD3/SAC) or any of its baselines from one command.

Dense TD3/SAC, static sparse (SS), SET, RigL and full RLx2 are the same code path with different switches:

  dense TD3           --dense --multistep off --dynamic-buffer off
  static sparse (SS)  --topology static --multistep off --dynamic-buffer off
  SET / RigL          --topology set|rigl --multistep off --dynamic-buffer off
  RLx2 (default)      --topology rigl --multistep delayed --n-step 3 --dynamic-buffer on
  Tiny (dense, eq. 26) --dense --hidden h_actor --critic-hidden h_critic --multistep off --dynamic-buffer off

Budget-dependent defaults (topology interval, n-step switch, buffer minimum) follow spec §2.5's scaling
rule from --total-steps. Resume an interrupted run with ``--resume RUN_DIR``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence

from deeprl.rlx2.config import (
    ALGOS,
    DISTRIBUTIONS,
    DROP_SCHEDULES,
    MASK_INITS,
    MULTISTEP_MODES,
    TOPOLOGIES,
    RLx2Config,
)
from simulators.cli_util import (
    CliParser,
    cli_main,
    command_line,
    fresh_output_dir,
    new_run_dir,
    nonneg_int,
    positive_float,
    positive_int,
    probability,
)

PROG = "python -m deeprl rlx2"


def _sparsity(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1)") from None
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1)")
    return v


def build_parser() -> CliParser:
    d = RLx2Config()
    p = CliParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                  epilog="Outputs in the run folder: config.json, metrics.csv, tb/ (TensorBoard), "
                         "checkpoints/, summary.json.")
    g = p.add_argument_group("run")
    g.add_argument("--algo", choices=ALGOS, default=d.algo, help="base algorithm (default %(default)s)")
    g.add_argument("--env", default=d.env, help="gymnasium continuous-control id (default %(default)s)")
    g.add_argument("--total-steps", type=positive_int, default=d.total_steps,
                   help="environment steps (default %(default)s, the paper's budget)")
    g.add_argument("--seed", type=nonneg_int, default=d.seed)
    g.add_argument("--out", default=None, help="run folder (must be new or empty; default runs/rlx2/<name>)")
    g.add_argument("--device", default=d.device, help="torch device, e.g. cpu or cuda (default %(default)s)")
    g.add_argument("--threads", type=positive_int, default=d.threads, help="torch CPU threads")
    g.add_argument("--hidden", type=positive_int, default=d.hidden, help="hidden width (Tiny baseline: eq. 26)")
    g.add_argument("--critic-hidden", type=positive_int, default=None, help="critic hidden width (default --hidden)")
    g.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its latest checkpoint (other options ignored)")
    g.add_argument("--stop-after", type=positive_int, default=None, metavar="N",
                   help="stop at the first episode end after N steps, leaving a checkpoint (an interruption)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    s = p.add_argument_group("sparsity (spec §1)")
    s.add_argument("--dense", action="store_true", help="dense networks (sparsities ignored)")
    s.add_argument("--actor-sparsity", type=_sparsity, default=d.actor_sparsity)
    s.add_argument("--critic-sparsity", type=_sparsity, default=d.critic_sparsity)
    s.add_argument("--topology", choices=TOPOLOGIES, default=d.topology, help="mask evolution (default %(default)s)")
    s.add_argument("--distribution", choices=DISTRIBUTIONS, default=d.distribution)
    s.add_argument("--mask-init", choices=MASK_INITS, default=d.mask_init)
    s.add_argument("--topology-interval", type=positive_int, default=None,
                   help="group optimiser steps between mask updates (default clip(T/60, 1e3, 1e4))")
    s.add_argument("--zeta", type=probability, default=d.zeta, help="initial drop fraction zeta_0")
    s.add_argument("--drop-schedule", choices=DROP_SCHEDULES, default=d.drop_schedule)
    s.add_argument("--t-end-fraction", type=probability, default=d.t_end_fraction,
                   help="topology evolution stops after this fraction of each group's steps")
    s.add_argument("--reset-optimizer-state", choices=("on", "off"), default="on",
                   help="zero Adam moments of regrown weights (off = RLx2-exact)")

    m = p.add_argument_group("multi-step targets (spec §2.2)")
    m.add_argument("--multistep", choices=MULTISTEP_MODES, default=d.multistep)
    m.add_argument("--n-step", type=positive_int, default=d.n_step)
    m.add_argument("--t-switch", type=positive_int, default=None,
                   help="training iteration of the switch to n-step (default 0.1 T)")
    m.add_argument("--delta-switch", type=positive_float, default=d.delta_switch, help="adaptive rule, eq. (23)")

    b = p.add_argument_group("dynamic replay buffer (spec §2.3)")
    b.add_argument("--dynamic-buffer", choices=("on", "off"), default="on")
    b.add_argument("--buffer-shrink", choices=("code", "paper"), default="code")
    b.add_argument("--buffer-distance", choices=("mse", "l2"), default=d.buffer_distance, help="eq. (24) / (25)")
    b.add_argument("--buffer-max", type=positive_int, default=None, help="default 1e6 (TD3), 3e6 (SAC)")
    b.add_argument("--buffer-min", type=positive_int, default=None, help="default clip(T/30, 5e4, 1e5), x2 SAC")
    b.add_argument("--buffer-threshold", type=positive_float, default=d.buffer_threshold)
    b.add_argument("--buffer-check-interval", type=positive_int, default=d.buffer_check_interval)

    a = p.add_argument_group("base algorithm (spec §2.1)")
    a.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    a.add_argument("--gamma", type=probability, default=d.gamma)
    a.add_argument("--tau", type=probability, default=d.tau)
    a.add_argument("--lr", type=positive_float, default=d.lr)
    a.add_argument("--warmup", type=nonneg_int, default=d.warmup, help="uniform-random steps before learning")
    a.add_argument("--policy-delay", type=positive_int, default=d.policy_delay)
    a.add_argument("--expl-noise", type=probability, default=d.expl_noise)
    a.add_argument("--target-noise", type=probability, default=d.target_noise)
    a.add_argument("--noise-clip", type=probability, default=d.noise_clip)

    e = p.add_argument_group("evaluation and logging")
    e.add_argument("--eval-interval", type=positive_int, default=d.eval_interval)
    e.add_argument("--eval-episodes", type=positive_int, default=d.eval_episodes)
    e.add_argument("--score-last-evals", type=positive_int, default=d.score_last_evals)
    e.add_argument("--checkpoint-interval", type=positive_int, default=d.checkpoint_interval)
    e.add_argument("--log-interval", type=positive_int, default=d.log_interval)
    return p


def config_from_args(args) -> RLx2Config:
    """Map parsed CLI options to an :class:`RLx2Config` (validated)."""
    names = {f.name for f in dataclasses.fields(RLx2Config)}
    kw = {k: v for k, v in vars(args).items() if k in names}
    kw["reset_optimizer_state"] = args.reset_optimizer_state == "on"
    kw["buffer_shrink"] = args.buffer_shrink if args.dynamic_buffer == "on" else "off"
    kw["progress"] = not args.no_progress
    cfg = RLx2Config(**kw)
    cfg.validate()
    return cfg


def run_name(cfg: RLx2Config) -> str:
    if cfg.dense:
        tag = "dense"
    else:
        tag = f"{cfg.topology}-a{cfg.actor_sparsity:g}-c{cfg.critic_sparsity:g}"
    return f"{cfg.env}-{cfg.algo}-{tag}-s{cfg.seed}"


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point called by ``python -m deeprl rlx2``."""
    from deeprl.rlx2.train import open_run, start_run

    args = build_parser().parse_args(argv)
    if args.resume is not None:
        run = open_run(args.resume)
        run.cfg.progress = not args.no_progress
    else:
        cfg = config_from_args(args)
        out = fresh_output_dir(args.out) if args.out else new_run_dir("runs/rlx2", run_name(cfg))
        run = start_run(cfg, out, command_line(argv, "deeprl rlx2"))
    summary = run.train(stop_after=args.stop_after)
    if summary is None:
        print(f"stopped at step {run.step}; resume with: {PROG} --resume {run.run_dir}")
        return 0
    keys = ("score", "actor_sparsity", "critic_sparsity", "train_flops_ratio", "inference_flops_ratio",
            "total_size_ratio", "steps_per_second")
    print(json.dumps({k: summary[k] for k in keys}, indent=2))
    print(f"run folder: {run.run_dir}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
