"""Multi-user delay-constrained scheduling system (RSD4 spec §1) and its model-based baselines (§3).

Importing the package registers the gymnasium ids
- ``simulators/Scheduling-v0``: channel observed (spec §1.7 "full");
- ``simulators/SchedulingPO-v0``: channel hidden (``partial=True``);
- ``simulators/SchedulingNoisy-v0``: channel observed through sensing noise (``obs_noise=0.1``).
Every keyword of :class:`SchedulingEnv` / :func:`make_instance` can be passed to ``gymnasium.make``.
"""

from __future__ import annotations

import gymnasium as gym

from .arrivals import (
    SYNTHETIC_LABEL,
    ArrivalProcess,
    BernoulliArrivals,
    MMPPArrivals,
    PeriodicArrivals,
    PoissonArrivals,
    TraceArrivals,
    load_trace_csv,
    write_synthetic_trace_csv,
)
from .channels import random_kernel, stationary_distribution, sticky_kernel, success_prob
from .env import SchedulingEnv
from .instances import SchedulingInstance, make_instance

ENV_IDS = {
    "simulators/Scheduling-v0": {},
    "simulators/SchedulingPO-v0": {"partial": True},
    "simulators/SchedulingNoisy-v0": {"obs_noise": 0.1},
}


def _register() -> None:
    for env_id, kwargs in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="simulators.scheduling.env:SchedulingEnv", kwargs=kwargs)


_register()

__all__ = [
    "ENV_IDS", "SYNTHETIC_LABEL", "ArrivalProcess", "BernoulliArrivals", "MMPPArrivals", "PeriodicArrivals",
    "PoissonArrivals", "SchedulingEnv", "SchedulingInstance", "TraceArrivals", "load_trace_csv",
    "make_instance", "random_kernel", "stationary_distribution", "sticky_kernel", "success_prob",
    "write_synthetic_trace_csv",
]
