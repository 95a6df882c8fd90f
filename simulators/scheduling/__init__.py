"""Multi-user delay-constrained scheduling system (RSD4 spec §1) and its model-based baselines (§3).

``import simulators`` registers the gymnasium ids (``simulators.gym_envs``; the package itself is only
imported when an env is made)
- ``simulators/Scheduling-v0``: channel observed (spec §1.7 "full");
- ``simulators/SchedulingPO-v0``: channel hidden (``partial=True``);
- ``simulators/SchedulingNoisy-v0``: channel observed through sensing noise (``obs_noise=0.1``).
Every keyword of :class:`SchedulingEnv` / :func:`make_instance` can be passed to ``gymnasium.make``.
``gymnasium.make_vec(id, num_envs=M, vectorization_mode="vector_entry_point")`` gives
:class:`SchedulingVectorEnv`, M lock-step episodes advanced by one kernel call per slot.
"""

from __future__ import annotations

from ..gym_envs import SCHEDULING_ENV_IDS
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
from .vector_env import SchedulingVectorEnv

# The ids are registered by ``import simulators`` (simulators.gym_envs.register); re-exported here.
ENV_IDS = SCHEDULING_ENV_IDS

__all__ = [
    "ENV_IDS", "SYNTHETIC_LABEL", "ArrivalProcess", "BernoulliArrivals", "MMPPArrivals", "PeriodicArrivals",
    "PoissonArrivals", "SchedulingEnv", "SchedulingInstance", "SchedulingVectorEnv", "TraceArrivals",
    "load_trace_csv", "make_instance", "random_kernel", "stationary_distribution", "sticky_kernel", "success_prob",
    "write_synthetic_trace_csv",
]
