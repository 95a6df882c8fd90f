"""Multi-agent tasks behind the PettingZoo parallel API (spec ``sparse.md`` §3.7).

``make_marl_env("lbf" | "spread" | "rware" | "smax-3m" | <id>, seed)`` returns a :class:`MarlTask`: per-agent
observations, ``state()``, ``infos[agent]["action_mask"]``, ``success()`` and ``env_info()``.
Wrappers only: no learning code, no torch. SMAX (``smax-*``, extra ``[smax]``) imports JAX only when built.
"""

from simulators.marl.base import MarlTask
from simulators.marl.factory import ALIASES, DEFAULT_TASKS, SMAX_TASKS, make_marl_env

__all__ = ["ALIASES", "DEFAULT_TASKS", "SMAX_TASKS", "MarlTask", "make_marl_env"]
