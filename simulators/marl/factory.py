"""``make_marl_env(name, seed, **kw)``: one entry point for every multi-agent task.

Names: the short defaults ``lbf`` (``Foraging-8x8-2p-2f-coop-v3``), ``lbf-hard``
(``Foraging-10x10-3p-3f-v3``), ``spread`` (mpe2 ``simple_spread_v3``, N=3), ``rware``
(``rware-tiny-2ag-v2``); or any registered ``Foraging-...-v3`` / ``rware-...-v2`` id, or
``simple_spread_v3``; ``smax-3m``, ``smax-2s3z``, ``smax-3s5z`` (or ``smax-<map>`` for any jaxmarl scenario):
SMAX, jaxmarl's SMAC re-implementation, which needs the optional extra ``pip install -e .[smax]``.
"""

from __future__ import annotations

from simulators.marl.base import MarlTask

ALIASES: dict[str, str] = {
    "lbf": "Foraging-8x8-2p-2f-coop-v3",
    "lbf-hard": "Foraging-10x10-3p-3f-v3",
    "spread": "simple_spread_v3",
    "rware": "rware-tiny-2ag-v2",
}
DEFAULT_TASKS = ("lbf", "spread")
SMAX_TASKS = ("smax-3m", "smax-2s3z", "smax-3s5z")  # spec sparse.md §3.7; extra [smax]


def make_marl_env(name: str, seed: int | None = None, **kw: object) -> MarlTask:
    """Build the task ``name``; its first ``reset()`` without a seed uses ``seed``."""
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    env_id = ALIASES.get(name, name)
    if env_id.startswith("Foraging"):
        from simulators.marl.lbf import LBFParallelEnv

        return LBFParallelEnv(env_id, seed=seed, **kw)
    if env_id == "simple_spread_v3":
        from simulators.marl.mpe import SpreadParallelEnv

        return SpreadParallelEnv(seed=seed, **kw)  # type: ignore[arg-type]
    if env_id.startswith("rware-"):
        from simulators.marl.rware import RwareParallelEnv

        return RwareParallelEnv(env_id, seed=seed, **kw)
    if env_id.startswith("smax-"):
        from simulators.marl.smax import SmaxParallelEnv  # imports jaxmarl (and JAX) only now

        return SmaxParallelEnv(env_id[len("smax-"):], seed=seed, **kw)
    if name.lower().startswith("smax"):
        raise ValueError(f"task {name!r}: SMAX tasks are named smax-<map>, e.g. {', '.join(SMAX_TASKS)} "
                         f"(they need jaxmarl: pip install -e .[smax])")
    raise ValueError(f"task {name!r} is unknown; use one of {', '.join(ALIASES)}, {', '.join(SMAX_TASKS)} or a "
                     f"Foraging-...-v3, rware-...-v2 or simple_spread_v3 id")
