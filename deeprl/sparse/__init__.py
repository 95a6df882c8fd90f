"""The shared sparse-training engine (sparse spec §1; MST spec §3.5-§3.6). Imports no algorithm.

Five swappable objects, each in a string registry (JaxPruner-style, §1.1):
``SparsityDistribution`` (``"uniform" | "er" | "erk"``, eqs. (2)-(6)), ``MaskInit`` (``"random" |
"magnitude"``, §1.4), ``DropFractionSchedule`` (``"cosine" | "constant" | "linear"``, eq. (7)) with
``UpdateSchedule`` (interval ΔT, end T_end) and ``TargetSchedule`` S(t) (``constant``, MST ``three_phase``,
``piecewise``), ``MaskUpdater`` (``"static" | "set" | "rigl"``, eqs. (8)-(11)), and ``SparseTrainer``
which wraps a ``torch.optim.Optimizer``. ``FlopsCounter`` (eqs. (14)-(19)), ``export_sparse_inference``
(§1.9) and ``python -m deeprl inspect`` complete it.

How a method uses it (TD3-style; one trainer per optimizer, one group per network)::

    from deeprl.sparse import SparseGroup, SparseTrainer, UpdateSchedule, DropFractionSchedule
    actor_target = copy.deepcopy(actor)                       # before or after the trainer: both fine
    group = SparseGroup("actor", actor, sparsity=0.9,         # float S, or a TargetSchedule S(t)
                        distribution="er", exclude=())        # fnmatch filters on weight names, e.g. "l3.*"
    opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
    trainer = SparseTrainer(group, opt, updater="rigl", mask_init="random", seed=seed,
                            update_schedule=UpdateSchedule(interval=10_000, end=t_end),
                            drop_fraction=DropFractionSchedule("cosine", zeta0=0.5, end=t_end))
    trainer.attach_target(actor_target, "actor")              # shares the SAME mask tensors (I5)
    ...
    opt.zero_grad(); loss.backward(); trainer.step(samples=batch)  # instead of opt.step(); False on an update
    trainer.soft_update(tau=0.005)                            # eq. (13): Polyak + re-mask the targets
    f_s, f_d = trainer.flops.forward("actor"), trainer.flops.forward("actor", sparse=False)
    ckpt = {"actor": actor.state_dict(), "opt": opt.state_dict(), "sparse": trainer.state_dict()}
    trainer.load_state_dict(ckpt["sparse"])                   # after loading model/optimizer: resumes topology
    fast_actor = trainer.export_sparse_inference("actor", batch_size=1)  # CSR where measured faster

Conventions: checkpoints store ``SparseTrainer.state_dict()`` under the key ``"sparse"`` (for several
trainers, a dict ``{"actor": ..., "critic": ...}`` of them under ``"sparse"`` also works with ``inspect``).
``trainer.density(group)``, ``trainer.layer_densities()``, ``trainer.last_update`` (n_pruned, n_grown,
churn) and ``trainer.check_invariants()`` are for logging and tests. Recurrent weights (``GRUCell``,
``LSTM``, ...) are sparsified like Linears (``weight_ih``/``weight_hh`` as two layers) and exported as
:class:`SparseRNNCell`. Export formats: the fused sparse MLP (``deeprl.sparse.fused``, whole Linear
chains in one Numba kernel), else per layer ``torch.sparse_csr`` or a Numba CSR layer; each chosen by a
micro-benchmark (imported lazily).
"""

from deeprl.sparse.distributions import (
    DISTRIBUTIONS,
    ErdosRenyi,
    ErdosRenyiKernel,
    SparsityDistribution,
    Uniform,
    make_distribution,
    nnz_per_layer,
)
from deeprl.sparse.export import (
    CSRLinear,
    SparseRNNCell,
    benchmark_inference,
    export_sparse_inference,
    format_table,
)
from deeprl.sparse.flops import (
    FlopsCounter,
    layer_forward_flops,
    marl_iteration_flops,
    rigl_train_flops,
    sac_iteration_flops,
    static_train_flops,
    td3_iteration_flops,
)
from deeprl.sparse.groups import LayerInfo, SparseGroup, iter_matmul_weights
from deeprl.sparse.masks import MASK_INITS, MagnitudeMaskInit, MaskInit, RandomMaskInit, make_mask_init
from deeprl.sparse.schedules import (
    ConstantTarget,
    DropFractionSchedule,
    PiecewiseTarget,
    TargetSchedule,
    ThreePhaseTarget,
    UpdateSchedule,
    make_target,
)
from deeprl.sparse.trainer import SparseTrainer, layers_from_state, union_params
from deeprl.sparse.updaters import (
    UPDATERS,
    MaskUpdater,
    RigLUpdater,
    SETUpdater,
    StaticUpdater,
    UpdateCounts,
    make_updater,
    update_counts,
)

__all__ = [
    "CSRLinear",
    "ConstantTarget",
    "DISTRIBUTIONS",
    "DropFractionSchedule",
    "ErdosRenyi",
    "ErdosRenyiKernel",
    "FlopsCounter",
    "LayerInfo",
    "MASK_INITS",
    "MagnitudeMaskInit",
    "MaskInit",
    "MaskUpdater",
    "PiecewiseTarget",
    "RandomMaskInit",
    "RigLUpdater",
    "SETUpdater",
    "SparseGroup",
    "SparseRNNCell",
    "SparseTrainer",
    "SparsityDistribution",
    "StaticUpdater",
    "TargetSchedule",
    "ThreePhaseTarget",
    "UPDATERS",
    "Uniform",
    "UpdateCounts",
    "UpdateSchedule",
    "benchmark_inference",
    "export_sparse_inference",
    "format_table",
    "iter_matmul_weights",
    "layer_forward_flops",
    "layers_from_state",
    "make_distribution",
    "make_mask_init",
    "make_target",
    "make_updater",
    "marl_iteration_flops",
    "nnz_per_layer",
    "rigl_train_flops",
    "sac_iteration_flops",
    "static_train_flops",
    "td3_iteration_flops",
    "union_params",
    "update_counts",
]
