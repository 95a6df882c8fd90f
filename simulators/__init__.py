"""Environments and exact model maths: linear MDPs with exact (risk-neutral and iterated-CVaR) DP.

    import simulators
    from simulators import LinearMDP, make_instance, INSTANCES, cvar, dp, rollout

Importing the package registers the gymnasium envs ``simulators/LinearMDP-v0`` and the scheduling
system's ``simulators/Scheduling-v0``, ``SchedulingPO-v0`` (channel hidden) and ``SchedulingNoisy-v0``
(:mod:`simulators.scheduling`, imported lazily by ``gymnasium.make``). Multi-agent tasks are in
:mod:`simulators.marl` (PettingZoo; needs the ``marl`` extra). No learning code here;
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
