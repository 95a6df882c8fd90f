"""``SparseTrainer``: owns the masks of one optimizer's sparse groups (sparse spec §1.1 object 5, §1.2-§1.9).

It wraps a ``torch.optim.Optimizer`` without changing the model class:

- masks are bool tensors beside the optimizer, keyed ``masks[group][qualified weight name]``;
- a tensor hook on every sparse weight returns ``∇W ⊙ M`` (invariant I3) and, on an update iteration only,
  keeps a copy of the raw dense gradient for RigL (§1.6; accumulated over the backward calls of that
  iteration, restarted whenever ``p.grad`` was cleared, freed after the update);
- an optimizer step post-hook applies ``W ← W ⊙ M`` after *every* ``optimizer.step()`` (I4), so Adam, AdamW
  (decoupled weight decay) and anything else leave masked weights exactly zero;
- :meth:`SparseTrainer.step` replaces ``optimizer.step()``: on an update iteration (``UpdateSchedule``) it
  runs the topology update (drop/grow, eqs. (7)-(11), moving target eqs. (8)-(10) of the MST spec) *instead*
  of the optimizer step and returns ``False`` (``skip_step_on_update=False`` steps first, then updates);
- after an update the optimizer state (Adam ``exp_avg``/``exp_avg_sq``, SGD ``momentum_buffer``, RMSprop
  ``square_avg``: every state tensor shaped like the weight) is zeroed at inactive and newly grown entries,
  eq. (12) (``reset_optimizer_state=False`` is RLx2-exact). Note that Adam's ``step`` count is per tensor, so
  a regrown weight's first update is ≈ lr·(1−β1)/√(1−β2) ≈ 3.2·lr;
- target networks attached with :meth:`attach_target` use the *same* mask tensor objects (I5); masks are
  always changed in place, so sharing survives updates and checkpoint loads. Targets are re-masked at
  attach time, by :meth:`soft_update` (eq. (13)), :meth:`hard_update` and :meth:`apply_masks`; a topology
  update leaves target weights alone (a hard-copied QMIX target stays frozen until the next copy, §1.8).

Time ``t`` counts ``step()`` calls (1-based for the current one), shared by every group of the trainer;
use one trainer per optimizer (e.g. TD3: one for the actor, one for the critics).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from deeprl.sparse.distributions import nnz_per_layer
from deeprl.sparse.flops import FlopsCounter
from deeprl.sparse.groups import LayerInfo, SparseGroup
from deeprl.sparse.masks import MaskInit, make_mask_init
from deeprl.sparse.schedules import DropFractionSchedule, UpdateSchedule
from deeprl.sparse.updaters import MaskUpdater, make_updater

STATE_VERSION = 1

# (target module, group name, its sparse weights by name, (online, target) parameter pairs)
_Target = tuple[nn.Module, str, dict[str, nn.Parameter], list[tuple[nn.Parameter, nn.Parameter]]]


class SparseTrainer:
    """Sparse training around one optimizer (see the module docstring).

    Parameters
    ----------
    groups: one :class:`SparseGroup` or several (all trained by ``optimizer``).
    optimizer: the ``torch.optim.Optimizer`` over (at least) every sparse weight of the groups.
    updater: ``"static" | "set" | "rigl"`` or a :class:`MaskUpdater`.
    update_schedule: when topology updates happen (``None``: never, i.e. static sparse training).
    drop_fraction: a :class:`DropFractionSchedule`, or a float ζ_0 for the cosine schedule ending at
        ``update_schedule.end`` (eq. (7)); default 0.5 cosine (RLx2).
    mask_init: ``"random" | "magnitude"`` or a :class:`MaskInit` (§1.4).
    reset_optimizer_state: eq. (12) on every update (default True; False = RLx2-exact).
    grow_init: ``"zeros"`` (RigL, default) or ``"init_dist"`` (original SET: ``U(±1/√fan_in)``).
    skip_step_on_update: the update iteration replaces the optimizer step (default, RLx2/JaxPruner).
    samples_per_step: default sample count for the FLOPs totals (``step(samples=...)`` overrides).
    seed: seeds the trainer's own ``torch.Generator`` (mask init, SET grow), saved in checkpoints.
    rescale_init: scale surviving initial weights by ``1/√d_l`` (keeps the pre-activation variance); off by
        default, as RigL/SET/RLx2 do not rescale (§1.4).
    dense_grad_reduce: applied to each captured dense gradient before ranking (data-parallel training:
        ``all_reduce`` it across ranks so every rank grows the same entries, MST spec §8.1).
    """

    def __init__(self, groups: SparseGroup | Sequence[SparseGroup], optimizer: torch.optim.Optimizer,
                 updater: str | MaskUpdater = "rigl", update_schedule: UpdateSchedule | None = None,
                 drop_fraction: DropFractionSchedule | float | None = None,
                 mask_init: str | MaskInit = "random", reset_optimizer_state: bool = True,
                 grow_init: str = "zeros", skip_step_on_update: bool = True, samples_per_step: int = 1,
                 seed: int = 0, dense_grad_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 rescale_init: bool = False) -> None:
        groups = [groups] if isinstance(groups, SparseGroup) else list(groups)
        if not groups:
            raise ValueError("groups must hold at least one SparseGroup")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"group names must be unique, got {names}")
        seen: dict[int, str] = {}
        for g in groups:
            for k, p in g.params.items():
                if id(p) in seen:
                    raise ValueError(f"weight {g.name}/{k} is already sparsified as {seen[id(p)]}: "
                                     "a weight may belong to one group only")
                seen[id(p)] = f"{g.name}/{k}"
        if grow_init not in ("zeros", "init_dist"):
            raise ValueError(f"grow_init must be 'zeros' or 'init_dist', got {grow_init!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.groups: dict[str, SparseGroup] = {g.name: g for g in groups}
        self.optimizer = optimizer
        self.updater = make_updater(updater)
        self.update_schedule = update_schedule
        if drop_fraction is None or isinstance(drop_fraction, numbers.Real):
            zeta0 = 0.5 if drop_fraction is None else float(drop_fraction)
            end = update_schedule.end if update_schedule is not None and update_schedule.end else 1 << 62
            drop_fraction = DropFractionSchedule("cosine", zeta0, end)
        if not isinstance(drop_fraction, DropFractionSchedule):
            raise ValueError(f"drop_fraction must be a DropFractionSchedule or a float, got {drop_fraction!r}")
        self.drop_fraction = drop_fraction
        self.mask_init = make_mask_init(mask_init)
        self.reset_optimizer_state = bool(reset_optimizer_state)
        self.grow_init = grow_init
        self.skip_step_on_update = bool(skip_step_on_update)
        self.samples_per_step = int(samples_per_step)
        self.seed = seed
        self.dense_grad_reduce = dense_grad_reduce
        self.rescale_init = bool(rescale_init)
        self.rng = torch.Generator().manual_seed(seed)
        self.t = 0
        self.history: list[dict[str, Any]] = []
        self.last_update: dict[str, dict[str, Any]] = {}
        self._dense_grad: dict[tuple[str, str], torch.Tensor] = {}
        self._nnz_cache: dict[str, dict[str, int]] = {}  # masks change only in _topology_update / load
        self._fwd_cache: dict[str, tuple[int, int, int, int]] = {}
        self._targets: list[_Target] = []
        self._check_optimizer_covers()

        self.masks: dict[str, dict[str, torch.Tensor]] = {}
        for g in groups:
            dens = g.densities(g.target(0))
            with torch.no_grad():
                init = self.mask_init({k: p.detach() for k, p in g.params.items()}, dens, self.rng)
            self.masks[g.name] = {k: init[k].to(device=p.device, dtype=torch.bool) for k, p in g.params.items()}
            if rescale_init:
                with torch.no_grad():
                    for k, p in g.params.items():
                        if 0 < dens[k] < 1:
                            p.mul_(1.0 / math.sqrt(dens[k]))
        self._hooks = [p.register_hook(self._make_hook(g.name, k, p))
                       for g in groups for k, p in g.params.items()]
        self._post_hook = optimizer.register_step_post_hook(lambda *_: self._mask_online())
        self.apply_masks()
        if self.reset_optimizer_state:
            self._reset_state_where(lambda g, k: ~self.masks[g][k])

        self.flops = FlopsCounter()
        for g in groups:
            self.flops.register(g.name, g.layers, self._nnz_fn(g.name))

    # ------------------------------------------------------------------ plumbing
    def _check_optimizer_covers(self) -> None:
        opt_ids = {id(p) for pg in self.optimizer.param_groups for p in pg["params"]}
        for g in self.groups.values():
            missing = [k for k, p in g.params.items() if id(p) not in opt_ids]
            if missing:
                raise ValueError(f"optimizer does not train the sparse weights {missing} of group {g.name!r}")

    def _nnz_fn(self, group: str):
        def nnz() -> dict[str, int]:
            if group not in self._nnz_cache:
                self._nnz_cache[group] = {k: int(m.sum()) for k, m in self.masks[group].items()}
            return dict(self._nnz_cache[group])

        return nnz

    def _forward_flops(self, group: str) -> tuple[int, int, int, int]:
        if group not in self._fwd_cache:
            f = self.flops.forward
            self._fwd_cache[group] = (f(group, True), f(group, False), f(group, True, True), f(group, False, True))
        return self._fwd_cache[group]

    def _invalidate(self) -> None:
        self._nnz_cache.clear()
        self._fwd_cache.clear()

    def _make_hook(self, group: str, name: str, param: nn.Parameter):
        key = (group, name)

        def hook(grad: torch.Tensor) -> torch.Tensor:
            if self.updater.needs_dense_grad and self.is_update_step(self.t + 1):
                buf = self._dense_grad.get(key)
                if buf is None or param.grad is None:  # p.grad cleared -> a new accumulation starts
                    self._dense_grad[key] = grad.detach().clone()
                else:
                    buf.add_(grad.detach())
            return grad * self.masks[group][name]  # I3

        return hook

    def is_update_step(self, t: int) -> bool:
        """Whether iteration ``t`` (1-based) is a topology-update iteration."""
        return self.update_schedule is not None and self.update_schedule(t)

    @property
    def capturing_dense_grad(self) -> bool:
        """True while the current iteration is an update iteration that needs the dense gradient (§1.6)."""
        return self.updater.needs_dense_grad and self.is_update_step(self.t + 1)

    @property
    def dense_grad_buffers(self) -> dict[tuple[str, str], torch.Tensor]:
        """The pending dense-gradient copies (non-empty only inside an update iteration)."""
        return dict(self._dense_grad)

    # ------------------------------------------------------------------ masking
    @torch.no_grad()
    def _mask_online(self) -> None:
        for gname, g in self.groups.items():
            for k, p in g.params.items():
                p.mul_(self.masks[gname][k])

    @torch.no_grad()
    def apply_masks(self, targets: bool = True) -> None:
        """``W ← W ⊙ M`` on every sparse weight (and on attached targets' weights)."""
        self._mask_online()
        if targets:
            for _, gname, tparams, _ in self._targets:
                for k, tp in tparams.items():
                    tp.mul_(self.masks[gname][k])

    def zero_grad(self, set_to_none: bool = True) -> None:
        """``optimizer.zero_grad`` that also drops pending dense-gradient copies."""
        self.optimizer.zero_grad(set_to_none=set_to_none)
        self._dense_grad.clear()

    # ------------------------------------------------------------------ stepping
    def step(self, samples: int | None = None) -> bool:
        """Replace ``optimizer.step()``. Returns False on an update iteration whose optimizer step was skipped.

        ``samples`` (default ``samples_per_step``) multiplies the per-sample training FLOPs accumulated
        under ``flops.totals["train/<group>"]``.
        """
        t = self.t + 1
        due = self.is_update_step(t)
        stepped = True
        if due:
            if self.skip_step_on_update:
                stepped = False
            else:
                self.optimizer.step()
            self._topology_update(t)
        else:
            self.optimizer.step()
        self.t = t
        self._dense_grad.clear()
        n = self.samples_per_step if samples is None else int(samples)
        rigl = due and self.updater.needs_dense_grad
        for g in self.groups:
            fs, fd, fs_full, fd_full = self._forward_flops(g)
            self.flops.add(f"train/{g}", n * ((2 * fs + fd) if rigl else 3 * fs), n * 3 * fd)
            # full count (biases, recurrent gate arithmetic), logged beside the headline convention
            self.flops.add(f"train_full/{g}", n * ((2 * fs_full + fd_full) if rigl else 3 * fs_full), n * 3 * fd_full)
        return stepped

    @torch.no_grad()
    def _topology_update(self, t: int) -> None:
        self._invalidate()
        zeta = float(self.drop_fraction(t))
        for gname, g in self.groups.items():
            s_t = g.target(t)
            n_target = nnz_per_layer(g.shapes, g.densities(s_t))
            pruned = grown_total = active = 0
            for k, p in g.params.items():
                m = self.masks[gname][k]
                dg = self._dense_grad.get((gname, k))
                if dg is not None and self.dense_grad_reduce is not None:
                    dg = self.dense_grad_reduce(dg)  # e.g. all_reduce(AVG) across data-parallel ranks
                score = self.updater.grow_score(p, m, dg, self.rng)
                drop = self.updater.drop_score(p, m, dg)
                new = self.updater.update(p, m, score, zeta, self.rng, n_target[k], score_drop=drop)
                grown = new & ~m
                dropped = m & ~new
                if self.grow_init == "init_dist" and bool(grown.any()):
                    lay = next(x for x in g.layers if x.name == k)
                    bound = 1.0 / math.sqrt(lay.hidden if lay.hidden else p.shape[1])
                    vals = (torch.rand(p.shape, generator=self.rng) * 2 - 1) * bound
                    p.copy_(torch.where(grown, vals.to(device=p.device, dtype=p.dtype), p))
                else:
                    p.masked_fill_(grown, 0.0)  # eq. (11): new weights start at zero
                p.mul_(new)
                if p.grad is not None:
                    p.grad.mul_(new)
                m.copy_(new)  # in place: targets and hooks keep the same tensor (I5)
                if self.reset_optimizer_state:
                    self._reset_state(p, ~new | grown)
                pruned += int(dropped.sum())
                grown_total += int(grown.sum())
                active += int(m.sum())
            self._invalidate()
            stats = {"t": t, "group": gname, "zeta": zeta, "target_sparsity": float(s_t),
                     "n_pruned": pruned, "n_grown": grown_total, "nnz": active,
                     "churn": (pruned + grown_total) / max(1, 2 * (active - grown_total + pruned))}
            self.last_update[gname] = stats
            self.history.append(stats)

    @torch.no_grad()
    def _reset_state(self, p: nn.Parameter, where: torch.Tensor) -> None:
        for v in self.optimizer.state.get(p, {}).values():
            if torch.is_tensor(v) and v.shape == p.shape:
                v.masked_fill_(where, 0)

    def _reset_state_where(self, fn) -> None:
        for gname, g in self.groups.items():
            for k, p in g.params.items():
                self._reset_state(p, fn(gname, k))

    # ------------------------------------------------------------------ targets
    def attach_target(self, target: nn.Module, group: str) -> None:
        """Make ``target`` (a copy of group ``group``'s module) follow the group's masks (I5, §1.8).

        Its sparse weights are matched by qualified name and share the online mask *objects*; every other
        parameter (biases, dense layers) is paired by name for :meth:`soft_update` / :meth:`hard_update`.
        """
        if group not in self.groups:
            raise ValueError(f"group must be one of {', '.join(self.groups)}, got {group!r}")
        g = self.groups[group]
        tp_all = dict(target.named_parameters(remove_duplicate=False))
        sparse: dict[str, nn.Parameter] = {}
        for k, p in g.params.items():
            if k not in tp_all or tp_all[k].shape != p.shape:
                raise ValueError(f"target network has no parameter {k!r} of shape {tuple(p.shape)} "
                                 f"(it must be a copy of group {group!r}'s module)")
            if tp_all[k] is p:
                raise ValueError(f"target parameter {k!r} is the online parameter itself; pass a copy")
            sparse[k] = tp_all[k]
        online = dict(g.module.named_parameters(remove_duplicate=False))
        pairs = [(online[k], tp) for k, tp in tp_all.items() if k in online and online[k].shape == tp.shape]
        self._targets.append((target, group, sparse, pairs))
        with torch.no_grad():
            for k, tp in sparse.items():
                tp.mul_(self.masks[group][k])

    def target_masks(self, target: nn.Module) -> dict[str, torch.Tensor]:
        """The mask tensors an attached target uses (the same objects as its online group's)."""
        for t, gname, sparse, _ in self._targets:
            if t is target:
                return {k: self.masks[gname][k] for k in sparse}
        raise ValueError("this module is not an attached target network")

    @torch.no_grad()
    def soft_update(self, tau: float, group: str | None = None) -> None:
        """Eq. (13): ``θ' ← (τθ + (1−τ)θ') ⊙ M`` for every attached target (or only ``group``'s)."""
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must be in [0, 1], got {tau!r}")
        for _, gname, sparse, pairs in self._targets:
            if group is not None and gname != group:
                continue
            if pairs:
                torch._foreach_lerp_([tp for _, tp in pairs], [p for p, _ in pairs], tau)
            for k, tp in sparse.items():
                tp.mul_(self.masks[gname][k])

    def hard_update(self, group: str | None = None) -> None:
        """Copy online weights into attached targets (QMIX-style), then mask them."""
        self.soft_update(1.0, group)

    # ------------------------------------------------------------------ read-outs
    def nnz(self, group: str) -> dict[str, int]:
        """Active entries per sparse layer of ``group``."""
        return self._nnz_fn(group)()

    def layer_densities(self, group: str | None = None) -> dict[str, float]:
        """``{"group/layer": density}`` for one or all groups."""
        out = {}
        for gname in [group] if group else list(self.groups):
            for k, m in self.masks[gname].items():
                out[f"{gname}/{k}"] = float(m.sum()) / m.numel()
        return out

    def density(self, group: str) -> float:
        """Total density of ``group``'s sparse layers (active / total)."""
        ms = self.masks[group].values()
        return sum(int(m.sum()) for m in ms) / sum(m.numel() for m in ms)

    def target_nnz(self, group: str, t: int | None = None) -> dict[str, int]:
        """The per-layer active counts the distribution prescribes at ``S(t)`` (default: now), eq. (6)."""
        g = self.groups[group]
        return nnz_per_layer(g.shapes, g.densities(g.target(self.t if t is None else t)))

    def check_invariants(self, targets: bool = False) -> None:
        """Assert I1: zero weights outside the masks (online; with ``targets`` also attached targets).

        Target weights are re-masked by :meth:`soft_update` / :meth:`hard_update` (§1.8), not by a topology
        update, so check ``targets=True`` right after a target update.
        """
        for gname, g in self.groups.items():
            for k, p in g.params.items():
                m = self.masks[gname][k]
                if bool((p.detach()[~m] != 0).any()):
                    raise AssertionError(f"I1 violated: {gname}/{k} has nonzero weights outside its mask")
        for _, gname, sparse, _ in self._targets:
            for k, tp in sparse.items():
                if targets and bool((tp.detach()[~self.masks[gname][k]] != 0).any()):
                    raise AssertionError(f"I1 violated on a target of {gname}/{k}")

    # ------------------------------------------------------------------ checkpoint
    def config(self) -> dict[str, Any]:
        """JSON-able configuration (stored in checkpoints)."""
        return {
            "updater": self.updater.config(),
            "update_schedule": None if self.update_schedule is None else self.update_schedule.config(),
            "drop_fraction": self.drop_fraction.config(),
            "mask_init": self.mask_init.name,
            "reset_optimizer_state": self.reset_optimizer_state,
            "grow_init": self.grow_init,
            "rescale_init": self.rescale_init,
            "skip_step_on_update": self.skip_step_on_update,
            "seed": self.seed,
            "groups": {n: {"target": g.target.config(), "distribution": g.distribution.config()}
                       for n, g in self.groups.items()},
        }

    def state_dict(self) -> dict[str, Any]:
        """Masks (bool, CPU), layer table, counters, RNG, pending dense-grad buffers, FLOPs totals, config.

        Methods store it under the key ``"sparse"`` of their checkpoint dict (``python -m deeprl inspect``
        reads it from there).
        """
        return {
            "version": STATE_VERSION,
            "t": self.t,
            "masks": {g: {k: m.detach().cpu().clone() for k, m in ms.items()} for g, ms in self.masks.items()},
            "layers": {n: [asdict(lay) for lay in g.layers] for n, g in self.groups.items()},
            "densities": self.layer_densities(),
            "rng": self.rng.get_state(),
            "dense_grad": {f"{g}/{k}": v.detach().cpu().clone() for (g, k), v in self._dense_grad.items()},
            "flops": self.flops.state_dict(),
            "history": [dict(h) for h in self.history],
            "config": self.config(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore masks in place, counters, RNG and buffers; re-apply ``W ← W ⊙ M`` (I4) online and on targets.

        Raises ValueError if the checkpoint's groups or layer shapes differ from this trainer's.
        """
        if "masks" not in state or "t" not in state:
            raise ValueError("not a SparseTrainer state_dict (missing 'masks' / 't')")
        if set(state["masks"]) != set(self.masks):
            raise ValueError(f"checkpoint groups {sorted(state['masks'])} differ from {sorted(self.masks)}")
        for g, ms in self.masks.items():
            saved = state["masks"][g]
            if set(saved) != set(ms):
                raise ValueError(f"group {g!r}: checkpoint layers {sorted(saved)} differ from {sorted(ms)}")
            for k, m in ms.items():
                if tuple(saved[k].shape) != tuple(m.shape):
                    raise ValueError(f"{g}/{k}: checkpoint mask shape {tuple(saved[k].shape)} != {tuple(m.shape)}")
        self._invalidate()
        for g, ms in self.masks.items():
            for k, m in ms.items():
                m.copy_(state["masks"][g][k].to(device=m.device, dtype=torch.bool))
        self.t = int(state["t"])
        self.rng.set_state(state["rng"])
        self._dense_grad = {}
        for key, v in state.get("dense_grad", {}).items():
            g, k = key.split("/", 1)
            self._dense_grad[(g, k)] = v.to(self.groups[g].params[k].device)
        self.flops.load_state_dict(state.get("flops", {}))
        self.history = [dict(h) for h in state.get("history", [])]
        self.last_update = {h["group"]: h for h in self.history}
        self.apply_masks()

    # ------------------------------------------------------------------ export
    def export_sparse_inference(self, group: str, **kwargs: Any) -> nn.Module:
        """Export ``group``'s module for sparse inference (:func:`deeprl.sparse.export.export_sparse_inference`)."""
        from deeprl.sparse.export import export_sparse_inference

        self.apply_masks(targets=False)
        return export_sparse_inference(self.groups[group].module, **kwargs)

    def remove_hooks(self) -> None:
        """Detach the gradient hooks and the optimizer post-hook (the trainer stops masking)."""
        for h in self._hooks:
            h.remove()
        self._post_hook.remove()
        self._hooks = []


def layers_from_state(state: Mapping[str, Any]) -> dict[str, list[LayerInfo]]:
    """Rebuild the ``LayerInfo`` table of every group from a :meth:`SparseTrainer.state_dict`."""
    return {g: [LayerInfo(**{**d, "shape": tuple(d["shape"])}) for d in rows] for g, rows in state["layers"].items()}


def union_params(groups: Iterable[SparseGroup]) -> list[nn.Parameter]:
    """All parameters of the groups' modules, once each (handy for building one optimizer)."""
    seen: dict[int, nn.Parameter] = {}
    for g in groups:
        for p in g.module.parameters():
            seen.setdefault(id(p), p)
    return list(seen.values())
