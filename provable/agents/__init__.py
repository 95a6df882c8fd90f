"""Agents of the provable side, all on one interface (:class:`provable.agents.base.Agent`).

``ALGORITHMS`` maps the CLI name to the class; to add an algorithm, append one line.
"""

from __future__ import annotations

from provable.agents.base import Agent, UniformRandomAgent, build_agent
from provable.agents.icvar_g import ICVaRG
from provable.agents.icvar_l import ICVaRL
from provable.agents.lsvi_ucb import LSVIUCB, LSVIUCBRareSwitch
from provable.agents.lsvi_ucb_plus import LSVIUCBPlus
from provable.agents.lsvi_ucb_pp import LSVIUCBPlusPlus
from provable.agents.variance_aware import EngineConfig, VarianceAwareLSVI

ALGORITHMS: dict[str, type[Agent]] = {
    "lsvi-ucb": LSVIUCB,
    "lsvi-ucb-rs": LSVIUCBRareSwitch,
    "lsvi-ucb-plus": LSVIUCBPlus,
    "lsvi-ucb-pp": LSVIUCBPlusPlus,
    "uniform-random": UniformRandomAgent,
    "icvar-l": ICVaRL,
    "icvar-g": ICVaRG,
}

__all__ = ["ALGORITHMS", "Agent", "build_agent", "EngineConfig", "VarianceAwareLSVI", "LSVIUCB",
           "LSVIUCBRareSwitch", "LSVIUCBPlus", "LSVIUCBPlusPlus", "UniformRandomAgent"]
