"""RSD4 configuration: every hyperparameter of RSD4 spec §2 and the ablation switches of §2.9."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

VARIANTS = ("rsd4", "rtd3", "sd3", "td3")
DUAL_MODES = ("ascent", "fixed", "calibrate")
PRESETS = ("code", "bench", "tiny")
CALIBRATE_SEARCHES = ("bisect", "grid")


@dataclass
class RSD4Config:
    """Defaults follow spec §2.2-2.7 ([code] values unless marked ours there).

    ``variant`` selects the ablation (spec §2.9), all on the same user-level decomposition:
    rsd4 = recurrent + softmax target + double actors; rtd3 = recurrent, one actor, TD3 target;
    sd3 = no recurrence + softmax + double actors; td3 = no recurrence, one actor, TD3 target.
    Our deviation for sd3/td3: they train on the same per-user episode replay as rsd4 (not on a
    transition buffer with the §2.9 settings), so the ablation isolates memory alone.
    """

    # system (simulators.scheduling.make_instance)
    preset: str = "bench"
    n_users: int = 4
    instance_seed: int = 0
    rho: float = 0.9
    partial: bool = True
    obs_noise: float = 0.0
    budget: float | None = None  # default 0.5 sum_i A_i (spec §1.6)
    horizon: int = 100
    # run
    variant: str = "rsd4"
    episodes: int = 1000
    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    eval_every: int = 100
    eval_episodes: int = 5
    # fresh EVAL_SEED episodes of the final score (the baselines' episodes in benchmarks/rsd4_cpu.py): the
    # throughput's standard error over 20 episodes is ~0.02, comparable to the gaps between methods [ours]
    final_eval_episodes: int = 20
    checkpoint_every: int = 50
    # networks and optimiser (spec §2.2, §2.5)
    hidden: int = 32
    lr: float = 3e-3
    # ours, not the code's 0.1 (spec §6 sweeps {0, 1e-4, 0.1}): at 0.1 the learned policy cannot follow
    # lambda (at lambda_max it still spends ~2 E_b); benchmarks/rsd4_sweep.py, README
    weight_decay: float = 1e-4
    batch_size: int = 50
    buffer_episodes: int = 10_000
    gamma: float = 0.99
    tau_soft: float = 0.05
    policy_delay: int = 2
    random_steps: int = 10_000
    expl_noise: float = 0.1
    obs_scale: float = 5.0  # counters enter the network divided by this [our choice]
    user_features: str = "ours"  # eq. (9): (beta/5, d/2, tau/tau_max) + g(t); "index": the code's raw index
    # add to o_i(t) the outcomes of the last slot that the counters reveal, S_{i,k} and the failures
    # q_{i,k}(t-1) - S_{i,k} per counter (simulators.scheduling.heuristics.observed_successes), divided by
    # obs_scale [ours, beyond eq. (9)]: a function of o_{t-1} and o_t, so no extra information, but the
    # network no longer has to learn the queue difference to see the channel's evidence
    outcome_features: bool = False
    # truncated BPTT (spec §2.6): 0 = whole episodes from the zero state (default, as the code)
    bptt_window: int = 0
    burn_in: int = 20
    # SD3 target (spec §2.3)
    n_samples: int = 50
    target_sigma: float = 0.2
    softmax_beta: float = 0.01
    importance_sampling: bool = False
    td3_noise_clip: float = 0.5
    # dual (spec §2.7; rule and defaults ours, see deeprl.rsd4.dual). Default "calibrate" (ours):
    # lambda-conditioned training with lambda ~ U[0, lambda_max] and relabelled replay, lambda set by
    # bisection on validation episodes at the evaluations of the selection window and before the final one.
    # "ascent": eq. (17a) every ``dual_every``
    # episodes with eta = dual_lr_frac lambda_max on the mean energy of the last ``dual_window`` episodes;
    # lambda_bar of eq. (17b) (iterates after the first ``dual_avg_start`` fraction) is held for the final
    # ``dual_freeze_frac`` of training. lam0=None: lambda_max / 2 for ascent, 1.0 (the code's) for fixed.
    dual: str = "calibrate"
    lam0: float | None = None
    dual_lr_frac: float = 0.02
    dual_every: int = 1
    dual_window: int = 1
    dual_avg_start: float = 0.5
    dual_freeze_frac: float = 0.1
    # "calibrate": lambda is sampled and searched on [0, calibrate_range x lambda_max] (ours; > 1 lets the
    # network see multipliers above the model's lambda_max, which a learned critic may need to stop spending)
    calibrate_range: float = 1.0
    # "calibrate": "bisect" (solve_dual's bisection, ~9 lambdas) or "grid" (17 lambdas, best feasible throughput)
    calibrate_search: str = "bisect"
    # "calibrate": the search holds the budget on mean + margin x SE of the validation episodes' energy
    # (an upper confidence bound, ours; 0 = on the mean): the validation estimate has a few-% error at
    # 20 episodes, so a lambda that meets E_b exactly on them can overspend on fresh episodes
    calibrate_margin: float = 0.0
    # "calibrate", bisection: play the infeasible end lambda^- of the final bracket with probability
    # q = (E_b - E^+)/(E^- - E^+), drawn once per episode, else lambda^+ (Beutler-Ross time sharing, the mixing
    # spec §3.2 gives the optimum; ours for the learned policy): spends E_b on the validation episodes
    # instead of the E^+ <= E_b of the feasible end alone
    calibrate_mix: bool = False
    # "calibrate", bisection: when even lambda_max overspends on the validation episodes (a policy that does
    # not follow lambda), scale the greedy policy's energies by the largest c in [0, 1] that meets the budget,
    # found by bisection (ours; c = 0, idling, is always feasible): the evaluated policy then keeps E_b
    # instead of being reported as a violation. Off: such a run keeps lambda_max and overspends
    calibrate_throttle: bool = False
    # critics with two outputs (Q_S, Q_E) combined as Q_S - lambda Q_E (ours; deeprl.rsd4.agent): the
    # reward of eq. (8) is linear in lambda, so the lambda-dependence of the value is exact by construction
    split_critic: bool = False

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.dual not in DUAL_MODES:
            raise ValueError(f"dual must be one of {', '.join(DUAL_MODES)}, got {self.dual!r}")
        if self.user_features not in ("ours", "index"):
            raise ValueError(f"user_features must be 'ours' or 'index', got {self.user_features!r}")
        if self.calibrate_search not in CALIBRATE_SEARCHES:
            raise ValueError(f"calibrate_search must be one of {', '.join(CALIBRATE_SEARCHES)}, "
                             f"got {self.calibrate_search!r}")
        if self.dual == "calibrate" and self.user_features == "index":
            raise ValueError("dual='calibrate' needs lambda among the inputs: user_features must be 'ours', "
                             "got 'index'")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        for name in ("n_users", "episodes", "eval_every", "eval_episodes", "final_eval_episodes",
                     "checkpoint_every", "hidden",
                     "batch_size", "buffer_episodes", "policy_delay", "n_samples", "dual_every", "dual_window",
                     "horizon", "threads"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not (self.calibrate_margin >= 0 and math.isfinite(self.calibrate_margin)):
            raise ValueError(f"calibrate_margin must be a non-negative number, got {self.calibrate_margin!r}")
        for name in ("calibrate_mix", "calibrate_throttle"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("lr", "obs_scale", "target_sigma", "calibrate_range"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("gamma", "tau_soft", "dual_freeze_frac"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("weight_decay", "expl_noise", "softmax_beta", "dual_lr_frac", "random_steps",
                     "td3_noise_clip"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if self.lam0 is not None and not self.lam0 >= 0:
            raise ValueError(f"lam0 must be non-negative (or None for the default), got {self.lam0!r}")
        if not 0.0 <= self.dual_avg_start < 1.0:
            raise ValueError(f"dual_avg_start must be in [0, 1), got {self.dual_avg_start!r}")
        if not isinstance(self.bptt_window, int) or self.bptt_window < 0 or self.bptt_window > self.horizon:
            raise ValueError(f"bptt_window must be an integer in [0, horizon={self.horizon}], got {self.bptt_window!r}")
        if not isinstance(self.burn_in, int) or self.burn_in < 0:
            raise ValueError(f"burn_in must be a non-negative integer, got {self.burn_in!r}")
        if self.bptt_window and self.burn_in + self.bptt_window > self.horizon:
            raise ValueError(f"burn_in + bptt_window must not exceed horizon={self.horizon}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")

    @property
    def recurrent(self) -> bool:
        return self.variant in ("rsd4", "rtd3")

    @property
    def softmax(self) -> bool:
        return self.variant in ("rsd4", "sd3")

    @property
    def double_actor(self) -> bool:
        return self.variant in ("rsd4", "sd3")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
