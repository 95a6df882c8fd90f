"""MAST: sparse value-based multi-agent RL on the QMIX family (spec ``sparse.md`` §3).

Modules, one job each: ``agent`` (recurrent shared agent network), ``mixers`` (QMIX hypernetwork mixer,
WQMIX central mixer), ``soft_mellowmax`` (eqs. 31-33), ``td_lambda`` (eqs. 35-36), ``dual_buffer``
(eq. 37, on ``deeprl.common.episode_replay``), ``sparsity`` (groups, engine, eq. 19 FLOPs), ``learner``
(targets and losses of QMIX / WQMIX / RES, eqs. 27-30, 34), ``runner`` (acting, evaluation), ``train``
(loop, logs, checkpoint/resume), ``config`` and ``cli`` (``python -m deeprl mast``).
"""

from deeprl.mast.config import MastConfig

__all__ = ["MastConfig"]
