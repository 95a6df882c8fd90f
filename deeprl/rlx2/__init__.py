"""RLx2 (Tan et al., ICLR 2023): sparse TD3/SAC trained sparse from scratch (spec ``sparse.md`` §2).

RigL topology evolution (from ``deeprl.sparse``) + multi-step TD targets (:mod:`.multistep`) +
dynamic-capacity replay buffer (:mod:`.buffer`), on TD3 (:mod:`.td3`) or SAC (:mod:`.sac`).
Dense, static-sparse, SET and RigL baselines are the same code with flags (:mod:`.config`, :mod:`.cli`).
Entry point: ``python -m deeprl rlx2 --help``.
"""

from deeprl.rlx2.config import RLx2Config

__all__ = ["RLx2Config"]
