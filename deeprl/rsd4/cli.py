"""``python -m deeprl rsd4``: train RSD4 or one of its ablations on the scheduling system.

  RSD4 (default)   --variant rsd4   recurrent, softmax (SD3) target, double actors
  RTD3             --variant rtd3   recurrent, TD3 target, one actor
  SD3 / TD3        --variant sd3|td3  the same without recurrence
  fixed lambda     --dual fixed --lam0 L
  calibrated       --dual calibrate   lambda-conditioned training, lambda set by bisection (ours)

Outputs in the run folder: config.json, metrics.csv, tb/ (TensorBoard), checkpoints/, summary.json
(throughput and energy per slot, budget, constraint satisfied or not, ratio to the DP optimum V_full).
Resume an interrupted run with ``--resume RUN_DIR``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from simulators.cli_util import (
    CliParser,
    cli_main,
    fresh_output_dir,
    new_run_dir,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
    probability,
)

from .config import CALIBRATE_SEARCHES, DUAL_MODES, PRESETS, VARIANTS, RSD4Config

PROG = "python -m deeprl rsd4"


def build_parser() -> CliParser:
    d = RSD4Config()
    p = CliParser(prog=PROG, description=__doc__.split("\n\n")[0],
                  epilog="Outputs: config.json, metrics.csv, tb/, checkpoints/, summary.json in the run folder.")
    g = p.add_argument_group("run")
    g.add_argument("--variant", choices=VARIANTS, default=d.variant, help="method (default %(default)s)")
    g.add_argument("--episodes", type=positive_int, default=d.episodes, help="training episodes of H slots")
    g.add_argument("--seed", type=nonneg_int, default=d.seed, help="training seed (seed2)")
    g.add_argument("--out", default=None, help="run folder (new or empty; default runs/rsd4/<variant>-s<seed>)")
    g.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue RUN_DIR from its latest checkpoint")
    g.add_argument("--stop-after", type=positive_int, default=None, metavar="N",
                   help="stop after N episodes, leaving a checkpoint (an interruption)")
    g.add_argument("--eval-every", type=positive_int, default=d.eval_every)
    g.add_argument("--final-eval-episodes", type=positive_int, default=d.final_eval_episodes,
                   help="fresh episodes of the final score in summary.json (default %(default)s)")
    g.add_argument("--checkpoint-every", type=positive_int, default=d.checkpoint_every)
    g.add_argument("--threads", type=positive_int, default=d.threads, help="torch CPU threads")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    e = p.add_argument_group("system (simulators.scheduling)")
    e.add_argument("--preset", choices=PRESETS, default=d.preset)
    e.add_argument("--n-users", type=positive_int, default=d.n_users)
    e.add_argument("--instance-seed", type=nonneg_int, default=d.instance_seed, help="instance seed (seed1)")
    e.add_argument("--rho", type=probability, default=d.rho, help="channel stickiness, eq. (4)")
    e.add_argument("--observe-channel", action="store_true", help="fully observed (default: channel hidden)")
    e.add_argument("--obs-noise", type=probability, default=d.obs_noise, help="channel sensing error (full only)")
    e.add_argument("--budget", type=positive_float, default=None, help="energy budget E_b (default 0.5 sum A_i)")
    e.add_argument("--horizon", type=positive_int, default=d.horizon)
    a = p.add_argument_group("learning (spec §2)")
    a.add_argument("--lr", type=positive_float, default=d.lr)
    a.add_argument("--weight-decay", type=nonneg_float, default=d.weight_decay)
    a.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="sequences per batch")
    a.add_argument("--gamma", type=probability, default=d.gamma)
    a.add_argument("--random-steps", type=nonneg_int, default=d.random_steps)
    a.add_argument("--policy-delay", type=positive_int, default=d.policy_delay)
    a.add_argument("--n-samples", type=positive_int, default=d.n_samples, help="K of eq. (12)")
    a.add_argument("--softmax-beta", type=nonneg_float, default=d.softmax_beta, help="beta of eq. (14)")
    a.add_argument("--importance-sampling", action="store_true", help="IS = 1 in eq. (14)")
    a.add_argument("--dual", choices=DUAL_MODES, default=d.dual,
                   help="lambda: dual ascent eq. (17a) with the averaged iterate (17b) held at the end; fixed; or "
                        "calibrate (lambda-conditioned training, lambda set by bisection on validation episodes)")
    a.add_argument("--lam0", type=nonneg_float, default=d.lam0,
                   help="initial (or fixed) lambda (default lambda_max/2 for ascent, 1 for fixed)")
    a.add_argument("--dual-lr-frac", type=nonneg_float, default=d.dual_lr_frac,
                   help="dual step eta = FRAC * lambda_max per episode on (E - E_b)/E_b (default %(default)s)")
    a.add_argument("--dual-freeze-frac", type=probability, default=d.dual_freeze_frac,
                   help="final fraction of training with lambda held at the averaged iterate (default %(default)s)")
    a.add_argument("--calibrate-range", type=positive_float, default=d.calibrate_range,
                   help="calibrate: lambda sampled and searched on [0, RANGE x lambda_max] (default %(default)s)")
    a.add_argument("--calibrate-search", choices=CALIBRATE_SEARCHES, default=d.calibrate_search,
                   help="calibrate: bisection to the budget, or the best feasible of 17 lambdas (default %(default)s)")
    a.add_argument("--calibrate-margin", type=nonneg_float, default=d.calibrate_margin,
                   help="calibrate: hold mean + MARGIN x SE of validation energy to the budget (default %(default)s)")
    a.add_argument("--calibrate-mix", action="store_true",
                   help="calibrate: mix the bracket's two lambdas per episode to spend E_b (Beutler-Ross; ours)")
    a.add_argument("--calibrate-throttle", action="store_true",
                   help="calibrate: if lambda_max overspends, scale the policy's energies to the budget (ours)")
    a.add_argument("--split-critic", action="store_true",
                   help="critics output (Q_S, Q_E), combined as Q_S - lambda Q_E (ours; deeprl.rsd4.agent)")
    a.add_argument("--hidden", type=positive_int, default=d.hidden)
    a.add_argument("--user-features", choices=("ours", "index"), default=d.user_features,
                   help="per-user features of eq. (9): ours, or the code's raw user index")
    a.add_argument("--outcome-features", action="store_true",
                   help="add the last slot's revealed successes/failures per counter to the observation (ours)")
    a.add_argument("--bptt-window", type=nonneg_int, default=d.bptt_window,
                   help="truncated BPTT window L (0 = whole episodes, the default)")
    a.add_argument("--burn-in", type=nonneg_int, default=d.burn_in, help="burn-in steps before each window")
    return p


def config_from_args(args) -> RSD4Config:
    return RSD4Config(
        variant=args.variant, episodes=args.episodes, seed=args.seed, eval_every=args.eval_every,
        final_eval_episodes=args.final_eval_episodes,
        checkpoint_every=args.checkpoint_every, threads=args.threads, preset=args.preset, n_users=args.n_users,
        instance_seed=args.instance_seed, rho=args.rho, partial=not args.observe_channel,
        obs_noise=args.obs_noise, budget=args.budget, horizon=args.horizon, lr=args.lr,
        weight_decay=args.weight_decay, batch_size=args.batch_size, gamma=args.gamma,
        random_steps=args.random_steps, policy_delay=args.policy_delay, n_samples=args.n_samples,
        softmax_beta=args.softmax_beta, importance_sampling=args.importance_sampling, dual=args.dual,
        lam0=args.lam0, dual_lr_frac=args.dual_lr_frac, dual_freeze_frac=args.dual_freeze_frac,
        calibrate_range=args.calibrate_range, calibrate_search=args.calibrate_search,
        calibrate_margin=args.calibrate_margin, calibrate_mix=args.calibrate_mix,
        calibrate_throttle=args.calibrate_throttle, split_critic=args.split_critic,
        outcome_features=args.outcome_features,
        hidden=args.hidden, bptt_window=args.bptt_window, burn_in=args.burn_in,
        user_features=args.user_features,
    )


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point called by ``python -m deeprl rsd4``."""
    from .train import resume, train

    args = build_parser().parse_args(argv)
    if args.resume is not None:
        summary = resume(args.resume, stop_after=args.stop_after, progress=not args.no_progress)
        out = args.resume
    else:
        cfg = config_from_args(args)
        if cfg.partial and cfg.obs_noise > 0:
            raise ValueError("--obs-noise needs --observe-channel (noise applies to a shown channel)")
        out = fresh_output_dir(args.out) if args.out else new_run_dir("runs/rsd4", f"{cfg.variant}-s{cfg.seed}")
        summary = train(cfg, out, stop_after=args.stop_after, progress=not args.no_progress)
    if summary is None:
        print(f"stopped; resume with: {PROG} --resume {out}")
        return 0
    keys = ("variant", "throughput", "energy_per_slot", "budget", "constraint_satisfied", "ratio_to_v_full")
    print(json.dumps({k: summary[k] for k in keys}, indent=2))
    print(f"run folder: {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
