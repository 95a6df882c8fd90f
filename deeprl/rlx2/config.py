"""RLx2 run configuration: every hyper-parameter of spec §2 in one dataclass, with the budget scaling rule.

Defaults are the official RLx2 settings at 3e6 steps (spec §2.1); quantities that depend on the budget T
and are left as ``None`` are filled by :meth:`RLx2Config.resolve` with the spec §2.5 scaling rule:
T_switch = 0.1 T, topology interval = clip(T/60, 1e3, 1e4), buffer min = clip(T/30, 5e4, 1e5) (x2 for SAC),
which gives back the paper's values at T = 3e6.
Dense TD3/SAC, static sparse (SS), SET, RigL and full RLx2 differ only in fields of this class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

ALGOS = ("td3", "sac")
TOPOLOGIES = ("static", "set", "rigl")
MULTISTEP_MODES = ("off", "fixed", "delayed", "adaptive")
SHRINK_MODES = ("code", "paper", "off")
DISTRIBUTIONS = ("er", "erk", "uniform")
MASK_INITS = ("random", "magnitude")
DROP_SCHEDULES = ("cosine", "constant", "linear")


def _clip(x: float, lo: float, hi: float) -> int:
    return int(min(max(x, lo), hi))


@dataclass
class RLx2Config:
    """All settings of one RLx2 / baseline run (see module docstring)."""

    algo: str = "td3"
    env: str = "HalfCheetah-v5"
    total_steps: int = 3_000_000
    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    hidden: int = 256
    critic_hidden: int | None = None  # None: same as hidden (the Tiny baseline sets both, eq. 26)
    # sparsity (spec §1, §2.1)
    dense: bool = False
    actor_sparsity: float = 0.9
    critic_sparsity: float = 0.85
    distribution: str = "er"
    mask_init: str = "magnitude"
    topology: str = "rigl"
    topology_interval: int | None = None  # group optimizer steps between updates (None: scaling rule)
    zeta: float = 0.5
    drop_schedule: str = "cosine"
    t_end_fraction: float = 1.0  # T_end as a fraction of each group's training steps
    reset_optimizer_state: bool = True
    # multi-step targets (spec §2.2)
    multistep: str = "delayed"
    n_step: int = 3
    t_switch: int | None = None  # training iterations (None: 0.1 T)
    delta_switch: float = 0.01
    # dynamic buffer (spec §2.3)
    buffer_shrink: str = "code"
    buffer_distance: str = "mse"
    buffer_max: int | None = None  # None: 1e6 (TD3), 3e6 (SAC)
    buffer_min: int | None = None  # None: scaling rule
    buffer_threshold: float = 0.2
    buffer_check_interval: int = 10_000
    buffer_check_size: int = 2048
    # base algorithm (spec §2.1)
    batch_size: int = 256
    gamma: float = 0.99
    tau: float = 0.005
    lr: float = 3e-4
    warmup: int = 25_000
    policy_delay: int = 2
    target_noise: float = 0.2
    noise_clip: float = 0.5
    expl_noise: float = 0.1
    init_alpha: float = 1.0
    # evaluation, logging, checkpoints
    eval_interval: int = 5_000
    eval_episodes: int = 10
    checkpoint_interval: int = 50_000
    log_interval: int = 1_000
    score_last_evals: int = 10
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError naming the bad option (the CLI turns it into one line, exit 2)."""
        def choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
            if value not in allowed:
                raise ValueError(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, got {value!r}")

        choice("algo", self.algo, ALGOS)
        choice("topology", self.topology, TOPOLOGIES)
        choice("multistep", self.multistep, MULTISTEP_MODES)
        choice("buffer_shrink", self.buffer_shrink, SHRINK_MODES)
        choice("distribution", self.distribution, DISTRIBUTIONS)
        choice("mask_init", self.mask_init, MASK_INITS)
        choice("drop_schedule", self.drop_schedule, DROP_SCHEDULES)
        choice("buffer_distance", self.buffer_distance, ("mse", "l2"))
        for name in ("actor_sparsity", "critic_sparsity"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"--{name.replace('_', '-')} must be in [0, 1), got {v}")
        for name in ("total_steps", "hidden", "batch_size", "n_step", "policy_delay", "eval_interval",
                     "eval_episodes", "checkpoint_interval", "log_interval", "buffer_check_interval",
                     "buffer_check_size", "threads", "score_last_evals"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if self.warmup < 0 or self.warmup >= self.total_steps:
            raise ValueError(f"--warmup must be in [0, total-steps={self.total_steps}), got {self.warmup}")
        if not 0.0 < self.gamma <= 1.0 or not 0.0 < self.tau <= 1.0:
            raise ValueError("--gamma and --tau must be in (0, 1]")
        if not 0.0 < self.zeta < 1.0:
            raise ValueError(f"--zeta must be in (0, 1), got {self.zeta}")
        if not 0.0 < self.t_end_fraction <= 1.0:
            raise ValueError(f"--t-end-fraction must be in (0, 1], got {self.t_end_fraction}")
        for name in ("topology_interval", "t_switch", "buffer_max", "buffer_min", "critic_hidden"):
            v = getattr(self, name)
            if v is not None and int(v) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {v}")
        if self.buffer_min is not None and self.buffer_max is not None and self.buffer_min > self.buffer_max:
            raise ValueError(f"--buffer-min ({self.buffer_min}) must not exceed --buffer-max ({self.buffer_max})")

    def resolve(self) -> RLx2Config:
        """A copy with every ``None`` filled by the spec §2.5 scaling rule (and dense => sparsity 0)."""
        self.validate()
        c = dataclasses.replace(self)
        T = c.total_steps
        if c.dense:
            c.actor_sparsity = c.critic_sparsity = 0.0
        if c.topology_interval is None:
            c.topology_interval = _clip(T / 60, 1_000, 10_000)
        if c.t_switch is None:
            c.t_switch = int(0.1 * T)
        if c.buffer_max is None:
            c.buffer_max = 1_000_000 if c.algo == "td3" else 3_000_000
        if c.buffer_min is None:
            c.buffer_min = _clip(T / 30, 50_000, 100_000) * (2 if c.algo == "sac" else 1)
        c.buffer_min = min(c.buffer_min, c.buffer_max)
        return c

    @property
    def is_sparse(self) -> bool:
        return not self.dense and (self.actor_sparsity > 0 or self.critic_sparsity > 0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RLx2Config:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown RLx2 config keys: {sorted(unknown)}")
        return cls(**d)
