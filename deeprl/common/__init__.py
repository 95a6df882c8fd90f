"""Machinery shared by every deep-RL method: seeding, logging, checkpoints, run folders.

Nothing here knows about a particular algorithm; a method sub-package (``rlx2``, ``mast``, ``mst``,
``rsd4``) imports from here and from ``deeprl.sparse``, never from another method.
"""

from deeprl.common.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from deeprl.common.episode_replay import EpisodeReplay
from deeprl.common.logging import RunLogger
from deeprl.common.replay import ReplayBuffer, transition_fields
from deeprl.common.seeding import get_rng_state, seed_everything, set_rng_state

__all__ = [
    "EpisodeReplay",
    "ReplayBuffer",
    "RunLogger",
    "get_rng_state",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "transition_fields",
]
