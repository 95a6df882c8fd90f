"""Environments and exact model maths: linear MDPs with exact (risk-neutral and iterated-CVaR) DP.

    import simulators
    from simulators import LinearMDP, make_instance, INSTANCES, cvar, dp, rollout

Importing the package registers the gymnasium env ``simulators/LinearMDP-v0``. No learning code here;
``simulators`` never imports ``provable``, ``deeprl`` or ``proofs_checks`` (nor torch).
"""

from . import dp, rollout
from .gym_envs import ENV_ID, LinearMDPEnv
from .gym_envs import register as _register_gym
from .instances import INSTANCES, make_instance
from .linear_mdp import LinearMDP
from .risk import cvar

_register_gym()

__all__ = ["ENV_ID", "INSTANCES", "LinearMDP", "LinearMDPEnv", "cvar", "dp", "make_instance", "rollout"]
