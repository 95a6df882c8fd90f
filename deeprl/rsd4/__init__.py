"""RSD4: recurrent softmax deep double deterministic policy gradients for multi-user delay-constrained
scheduling (RSD4 spec §2), with the RTD3, SD3 and TD3 ablations, on :mod:`simulators.scheduling`."""

from .agent import RSD4Agent, softmax_value
from .config import RSD4Config
from .dual import DualAscent

__all__ = ["DualAscent", "RSD4Agent", "RSD4Config", "softmax_value"]
