"""MST training loop: one process or ``torchrun`` data parallel (MST spec §8), on the shared sparse engine.

One iteration (global batch B_tok = batch_size · grad_accum · block_size tokens):

1. lr from the nanoGPT schedule; attention set sparse inside the HSA window (§4.2), dense outside;
2. ``grad_accum / world`` micro-batches per rank (non-final ones under DDP ``no_sync``); micro-batch slot
   j of the global batch draws its windows from its own generator seeded by (seed, j), so the data a
   run sees does not depend on the number of processes;
3. on a topology-update iteration the engine's hook holds each rank's local dense gradient (summed
   over micro-batches); it is averaged across ranks (``all_reduce``) before ranking (§8.1);
4. gradient clipping, then ``SparseTrainer.step()``: the optimizer step, or, every ΔT iterations, the
   RigL drop/grow toward the target S(t) (MST spec eqs. (8)–(10)) instead of the step;
5. after an update the ranks compare a 64-bit mask checksum; on a mismatch rank 0's masks are
   broadcast and a warning is logged;
6. FLOPs of eqs. (16)–(18) are charged (densities after this iteration's update, see ``flops.py``).

Checkpoints (rank 0, atomic, ``deeprl.common.save_checkpoint``) hold model, optimizer, the engine's
state under ``"sparse"`` (masks, t, RNG, history), run counters, FLOPs totals, every rank's RNG states
and every micro-batch slot's data-generator state: resuming gives the uninterrupted run bit for bit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from deeprl.common import RunLogger, get_rng_state, load_checkpoint, save_checkpoint, seed_everything, set_rng_state
from deeprl.mst import schedule as sched
from deeprl.mst.attention import HSAConfig
from deeprl.mst.configs import ModelConfig, get_config
from deeprl.mst.data import Corpus, load_corpus, prepare
from deeprl.mst.flops import FlopsAccount, dense_flops_per_token
from deeprl.mst.model import GPT
from deeprl.sparse import SparseGroup, SparseTrainer

GROUP = "gpt"
PEAK_FLOPS = {"A100": 312e12, "H100": 989e12, "H200": 989e12}  # bf16 dense peaks (§8.3)


@dataclass
class TrainConfig:
    """Everything a run needs; ``None`` fields take the named configuration's recipe value."""

    config: str = "cpu"
    method: str = "mst"
    steps: int | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    lr: float | None = None
    min_lr: float | None = None
    warmup_iters: int | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    eval_interval: int | None = None
    eval_iters: int | None = None
    eval_batch_size: int | None = None
    train_eval_iters: int | None = None
    log_interval: int | None = None
    ckpt_interval: int | None = None
    seed: int = 0
    device: str = "cpu"
    dtype: str | None = None
    compile: bool = False
    data: str = "shakespeare"
    data_dir: str | None = None
    tokenizer: str = "char"
    # sparsity (MST spec §3)
    sparsity: float = 0.9
    s0: float = 0.0
    su: float = 0.9
    sf: float = 0.5
    phi_w: float = 0.10
    phi_r: float = 0.75
    warmup_shape: str = "linear"
    sv: bool = True
    piecewise: dict[int, float] | None = None
    delta_t: int | None = None
    zeta: float = 0.3
    drop_schedule: str = "phase"
    distribution: str = "er"
    mask_init: str = "random"
    mask_lm_head: bool = True
    reset_optimizer_state: bool = True
    skip_step_on_update: bool = True
    # hybrid sparse attention (MST spec §4)
    hsa: bool | None = None
    hsa_pattern: str = "sparse"
    hsa_w: int | None = None
    hsa_window: str = "ultra"
    hsa_layers: str = "all"
    # output
    sample_tokens: int = 400
    sample_prompt: str = "\n"
    temperature: float = 0.8
    top_k: int | None = 40
    peak_flops: float | None = None
    tensorboard: bool = True
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> TrainConfig:
        """A copy with every ``None`` recipe field filled from the named configuration."""
        mcfg, rec = get_config(self.config)
        c = dataclasses.replace(self)
        fill = {"steps": rec.iterations, "batch_size": rec.batch_size, "grad_accum": rec.grad_accum,
                "lr": rec.lr, "min_lr": rec.min_lr, "warmup_iters": rec.warmup_iters,
                "weight_decay": rec.weight_decay, "grad_clip": rec.grad_clip, "eval_interval": rec.eval_interval,
                "eval_iters": rec.eval_iters, "eval_batch_size": rec.eval_batch_size,
                "log_interval": rec.log_interval, "delta_t": rec.delta_t, "dtype": rec.dtype,
                "hsa_w": rec.hsa_w or max(1, mcfg.block_size // 8), "hsa": self.method == "mst"}
        for k, v in fill.items():
            if getattr(c, k) is None:
                setattr(c, k, v)
        if c.ckpt_interval is None:
            c.ckpt_interval = c.eval_interval
        c.validate()
        return c

    def validate(self) -> None:
        if self.method not in sched.METHODS:
            raise ValueError(f"--method {self.method!r} is not one of {', '.join(sched.METHODS)}")
        for k in ("steps", "batch_size", "grad_accum", "eval_interval", "eval_iters", "eval_batch_size",
                  "log_interval", "ckpt_interval", "delta_t", "hsa_w"):
            v = getattr(self, k)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"--{k.replace('_', '-')} must be a positive integer, got {v!r}")
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"--sparsity must lie in [0, 1), got {self.sparsity}")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"--dtype {self.dtype!r} is not float32, bfloat16 or float16")
        if self.distribution not in ("er", "uniform"):
            raise ValueError(f"--distribution {self.distribution!r} is not 'er' or 'uniform'")
        if self.mask_init not in ("random", "magnitude"):
            raise ValueError(f"--mask-init {self.mask_init!r} is not 'random' or 'magnitude'")
        if not (self.device == "cpu" or self.device.startswith("cuda") or self.device == "mps"):
            raise ValueError(f"--device {self.device!r} is not cpu, cuda, cuda:N or mps")
        if self.weight_decay is not None and not self.weight_decay >= 0:
            raise ValueError(f"--weight-decay must be >= 0, got {self.weight_decay}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")


# ------------------------------------------------------------------------------------------- distributed
@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def on(self) -> bool:
        return self.world > 1


def init_distributed(device: str) -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group if launched by torchrun (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), torch.device(device)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        dev = torch.device(f"cuda:{local}")
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev = torch.device(device)
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local), dev


def _bcast_obj(info: DistInfo, obj: Any) -> Any:
    if not info.on:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _gather_obj(info: DistInfo, obj: Any) -> list[Any]:
    if not info.on:
        return [obj]
    out: list[Any] = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


def mask_checksum(masks: dict[str, torch.Tensor]) -> str:
    """64-bit checksum (blake2b) of the masks in name order (§8.1 mask agreement)."""
    h = hashlib.blake2b(digest_size=8)
    for k in sorted(masks):
        h.update(k.encode())
        h.update(masks[k].detach().to("cpu", torch.uint8).numpy().tobytes())
    return h.hexdigest()


def param_checksum(model: nn.Module) -> str:
    """64-bit checksum of every parameter's bytes (ranks of a DDP run must agree bit for bit)."""
    h = hashlib.blake2b(digest_size=8)
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().to("cpu").contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------ run
class Run:
    """One training run (build with :func:`build_run`, then :meth:`train`)."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, info: DistInfo, device: torch.device,
                 corpus: Corpus, argv: list[str] | None = None) -> None:
        self.cfg, self.run_dir, self.info, self.device, self.corpus = cfg, run_dir, info, device, corpus
        self.argv = argv
        mcfg, _ = get_config(cfg.config)
        if corpus.vocab_size > (mcfg.vocab_size or 0):
            mcfg = mcfg.with_vocab(corpus.vocab_size)
        self.mcfg: ModelConfig = mcfg
        if cfg.grad_accum % info.world:
            raise ValueError(f"--grad-accum ({cfg.grad_accum}) must be divisible by the world size ({info.world})")
        self.local_accum = cfg.grad_accum // info.world
        self.slots = [info.rank * self.local_accum + i for i in range(self.local_accum)]
        self.tokens_per_iter = cfg.batch_size * cfg.grad_accum * mcfg.block_size
        total = cfg.steps
        self.t_w, self.t_r = sched.phase_bounds(total, cfg.phi_w, cfg.phi_r)

        seed_everything(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.model = GPT(mcfg).to(device)
        self.optimizer = torch.optim.AdamW(self.model.optimizer_groups(cfg.weight_decay), lr=cfg.lr,
                                           betas=get_config(cfg.config)[1].betas)
        self.target = sched.sparsity_target(cfg.method, total, sparsity=cfg.sparsity, s0=cfg.s0, su=cfg.su,
                                            sf=cfg.sf, phi_w=cfg.phi_w, phi_r=cfg.phi_r, shape=cfg.warmup_shape,
                                            sv=cfg.sv, piecewise=cfg.piecewise)
        self.trainer: SparseTrainer | None = None
        if self.target is not None:
            group = SparseGroup(GROUP, self.model, sparsity=self.target, distribution=cfg.distribution,
                                exclude=() if cfg.mask_lm_head else ("lm_head.weight",))
            self.trainer = SparseTrainer(
                group, self.optimizer, updater="rigl" if cfg.method in ("rigl", "mst") else "static",
                update_schedule=sched.update_schedule(cfg.method, cfg.delta_t, total),
                drop_fraction=sched.drop_fraction(cfg.method, cfg.zeta, total, (self.t_w, self.t_r),
                                                  cfg.drop_schedule),
                mask_init=cfg.mask_init, reset_optimizer_state=cfg.reset_optimizer_state,
                skip_step_on_update=cfg.skip_step_on_update, seed=cfg.seed)
        hsa_on = bool(cfg.hsa)
        if hsa_on:
            window = (self.t_w, self.t_r) if cfg.hsa_window == "ultra" else _parse_window(cfg.hsa_window)
            layers: str | tuple[int, ...] = cfg.hsa_layers
            if cfg.hsa_layers not in ("all", "alternate"):
                layers = tuple(int(x) for x in cfg.hsa_layers.split(","))
            if cfg.hsa_pattern == "fixed" and mcfg.block_size % cfg.hsa_w:
                raise ValueError(f"--hsa-pattern fixed needs block_size ({mcfg.block_size}) divisible by --hsa-w")
            self.hsa: HSAConfig | None = HSAConfig(cfg.hsa_pattern, cfg.hsa_w, window, layers)
        else:
            self.hsa = None
        self.ddp: nn.Module = self.model
        if info.on:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.ddp = DDP(self.model, device_ids=[device.index] if device.type == "cuda" else None)
        self.fwd = torch.compile(self.ddp) if cfg.compile else self.ddp
        self.flops = FlopsAccount(mcfg)
        self.data_gens = {j: torch.Generator().manual_seed(_slot_seed(cfg.seed, j)) for j in self.slots}
        self.sample_gen = torch.Generator().manual_seed(cfg.seed)
        self.it = 0
        self.tokens = 0
        self.best_val = math.inf
        self.wall = 0.0
        self.history: list[dict[str, float]] = []
        self._dens_cache: dict[str, float] | None = None
        self.logger: RunLogger | None = None
        self.mask_resyncs = 0

    # -------------------------------------------------------------------------------- helpers
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.cfg.dtype == "float32":
            return contextlib.nullcontext()
        dt = torch.bfloat16 if self.cfg.dtype == "bfloat16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dt)

    def densities(self) -> dict[str, float]:
        """Per-layer densities ρ_l (layer name → |M_l|/N_l); empty for dense runs."""
        if self.trainer is None:
            return {}
        if self._dens_cache is None:
            self._dens_cache = {k: float(m.sum()) / m.numel() for k, m in self.trainer.masks[GROUP].items()}
        return self._dens_cache

    def realised_density(self) -> float:
        return 1.0 if self.trainer is None else self.trainer.density(GROUP)

    def set_attention(self, it: int) -> float:
        """Switch the model's attention for iteration ``it``; return α(it) (eq. (15), layer-averaged)."""
        if self.hsa is not None and self.hsa.active(it):
            self.model.set_attention(self.hsa.pattern, self.hsa.w, self.hsa.sparse_layers(self.mcfg.n_layer))
            return self.hsa.alpha(it, self.mcfg.block_size, self.mcfg.n_layer)
        self.model.set_attention(None)
        return 1.0

    def lr_at(self, it: int) -> float:
        c = self.cfg
        return sched.learning_rate(it, c.lr, c.min_lr, c.warmup_iters, c.steps)

    @torch.no_grad()
    def evaluate(self, split: str, n_batches: int | None = None) -> float:
        """Mean loss over ``eval_iters`` fixed batches of ``split`` (same windows in every run and every
        evaluation; shared among ranks). Uses the attention pattern currently set (§4.2)."""
        n = n_batches or self.cfg.eval_iters
        gen = torch.Generator().manual_seed(1234 if split == "val" else 4321)
        was = self.model.training
        self.model.eval()
        total = torch.zeros(2, dtype=torch.float64)
        for i in range(n):
            x, y = self.corpus.get_batch(split, self.cfg.eval_batch_size, self.mcfg.block_size, gen)
            if i % self.info.world != self.info.rank:
                continue
            with self._autocast():
                _, loss = self.model(x.to(self.device), y.to(self.device))
            total[0] += float(loss)
            total[1] += 1
        if self.info.on:
            dist.all_reduce(total)
        self.model.train(was)
        return float(total[0] / total[1])

    # -------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Checkpoint dict; collective under DDP (every rank must call it), meaningful on rank 0."""
        rng = _gather_obj(self.info, get_rng_state())
        gens = {}
        for part in _gather_obj(self.info, {j: g.get_state() for j, g in self.data_gens.items()}):
            gens.update(part)
        return {
            "kind": "mst",
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sparse": None if self.trainer is None else self.trainer.state_dict(),
            "iter": self.it, "tokens": self.tokens, "best_val": self.best_val, "wall": self.wall,
            "flops": self.flops.state_dict(), "history": list(self.history),
            "hsa": None if self.hsa is None else asdict(self.hsa),
            "rng": rng, "data_gens": gens, "sample_gen": self.sample_gen.get_state(),
            "config": asdict(self.cfg), "model_config": asdict(self.mcfg),
            "data": {k: self.corpus.meta[k] for k in ("source", "tokenizer", "vocab_size", "content_sha256",
                                                      "train_sha256", "val_sha256")},
            "world_size": self.info.world,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "mst":
            raise ValueError("--resume: not an MST checkpoint")
        saved = ModelConfig(**state["model_config"])
        if saved != self.mcfg:
            raise ValueError(f"--resume: checkpoint model {saved} differs from this run's {self.mcfg}")
        if state["data"]["content_sha256"] != self.corpus.meta["content_sha256"]:
            raise ValueError("--resume: the checkpoint was trained on different data (content hash differs)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.trainer is not None:
            self.trainer.load_state_dict(state["sparse"])
        self._dens_cache = None
        self.it, self.tokens = int(state["iter"]), int(state["tokens"])
        self.best_val, self.wall = float(state["best_val"]), float(state["wall"])
        self.flops.load_state_dict(state["flops"])
        self.history = list(state.get("history", []))
        for j, g in self.data_gens.items():
            g.set_state(state["data_gens"][j])
        self.sample_gen.set_state(state["sample_gen"])
        rngs = state["rng"]
        set_rng_state(rngs[self.info.rank] if self.info.rank < len(rngs) else rngs[0])

    def save(self, best: bool = False) -> None:
        state = self.state_dict()
        if self.info.main:
            save_checkpoint(self.run_dir, self.it, state, keep=2)
            if best:
                save_checkpoint(self.run_dir / "best", self.it, state, keep=1)

    # -------------------------------------------------------------------------------- training
    def _sync_masks(self) -> bool:
        """Compare mask checksums across ranks; on mismatch broadcast rank 0's masks. True if in sync."""
        if not self.info.on or self.trainer is None:
            return True
        sums = _gather_obj(self.info, mask_checksum(self.trainer.masks[GROUP]))
        if len(set(sums)) == 1:
            return True
        for k in sorted(self.trainer.masks[GROUP]):
            m = self.trainer.masks[GROUP][k]
            buf = m.to(torch.uint8)
            dist.broadcast(buf, src=0)
            m.copy_(buf.bool())
        self.trainer.apply_masks()
        self.mask_resyncs += 1
        warnings.warn(f"masks differed across ranks at iteration {self.it} ({sums}); rank 0's were broadcast",
                      stacklevel=2)
        return False

    def train_iteration(self) -> dict[str, float]:
        """One optimisation iteration (module docstring, steps 1–6); returns its scalars."""
        c, it = self.cfg, self.it
        t0 = time.perf_counter()
        lr = self.lr_at(it)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        alpha = self.set_attention(it)
        loss_sum = 0.0
        for i, j in enumerate(self.slots):
            x, y = self.corpus.get_batch("train", c.batch_size, self.mcfg.block_size, self.data_gens[j])
            x, y = x.to(self.device), y.to(self.device)
            last = i == self.local_accum - 1
            ctx = self.ddp.no_sync() if (self.info.on and not last) else contextlib.nullcontext()
            with ctx:
                with self._autocast():
                    _, loss = self.fwd(x, y)
                (loss / self.local_accum).backward()
            loss_sum += float(loss.detach())
        update = self.trainer is not None and self.trainer.capturing_dense_grad
        if update and self.info.on:
            for buf in self.trainer.dense_grad_buffers.values():
                dist.all_reduce(buf)
                buf.div_(self.info.world)
        gnorm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip))
        if self.trainer is not None:
            due = self.trainer.is_update_step(self.trainer.t + 1)
            self.trainer.step()
            self.trainer.zero_grad(set_to_none=True)
            if due:
                self._dens_cache = None
                self._sync_masks()
        else:
            due = False
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        f_step = self.flops.add(self.tokens_per_iter, self.densities(), alpha, due)
        self.it += 1
        self.tokens += self.tokens_per_iter
        dt = time.perf_counter() - t0
        self.wall += dt
        out = {"loss": loss_sum / self.local_accum, "lr": lr, "dt": dt, "alpha": alpha, "grad_norm": gnorm,
               "tokens_per_s": self.tokens_per_iter / dt, "flops_step": f_step,
               "flops_total": self.flops.total, "flops_dense_total": self.flops.total_dense,
               "flops_ratio": self.flops.ratio, "flops_ratio_nohead": self.flops.ratio_nohead,
               "density": self.realised_density(), "update": float(due)}
        if self.trainer is not None:
            t = it + 1
            out["target_sparsity"] = float(self.target(t))
            out["drop_fraction"] = float(self.trainer.drop_fraction(t))
            out["phase"] = float(("warmup", "ultra", "restoration").index(sched.phase_name(it, self.t_w, self.t_r)))
            if due and GROUP in self.trainer.last_update:
                lu = self.trainer.last_update[GROUP]
                out.update({"n_pruned": lu["n_pruned"], "n_grown": lu["n_grown"], "churn": lu["churn"]})
        peak = self.peak_flops()
        if peak:
            out["mfu_hardware"] = self.tokens_per_iter * dense_flops_per_token(self.mcfg) / (dt * peak)
            out["mfu_effective"] = f_step / (dt * peak)
        return out

    def peak_flops(self) -> float | None:
        if self.cfg.peak_flops:
            return self.cfg.peak_flops * self.info.world
        if self.device.type == "cuda":
            name = torch.cuda.get_device_name(self.device)
            for key, v in PEAK_FLOPS.items():
                if key in name:
                    return v * self.info.world
        return None

    def train(self, stop_after: int | None = None) -> dict[str, Any]:
        """Train to ``cfg.steps`` (or ``stop_after`` more iterations, then checkpoint and return)."""
        c = self.cfg
        if self.info.main:
            self.logger = RunLogger(self.run_dir, tensorboard=c.tensorboard, resume_step=self.it or None)
        end = c.steps if stop_after is None else min(c.steps, self.it + stop_after)
        bar = None
        if self.info.main and c.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=c.steps, initial=self.it, desc=f"mst {c.method}", dynamic_ncols=True,
                       file=sys.stderr)
        self.model.train()
        try:
            while self.it < end:
                row = self.train_iteration()
                it = self.it  # iterations done
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{row['loss']:.3f}", density=f"{row['density']:.3f}",
                                    flops=f"{row['flops_ratio']:.3f}")
                if it % c.log_interval == 0 or row["update"] or it == c.steps:
                    self._log(it, row)
                best = False
                if it % c.eval_interval == 0 or it == c.steps:
                    best = self._eval_and_log(it)
                if (it % c.ckpt_interval == 0 or best) and it < c.steps:
                    self.save(best=best)
        finally:
            if bar is not None:
                bar.close()
        result: dict[str, Any] = {}
        if self.it >= c.steps:
            result = self.finish()
        else:
            self.save()
        if self.logger is not None:
            self.logger.close()
        return result

    def _log(self, it: int, row: dict[str, float]) -> None:
        if self.info.on:
            t = torch.tensor([row["loss"]], dtype=torch.float64)
            dist.all_reduce(t)
            row = {**row, "loss": float(t[0]) / self.info.world}
        if self.logger is not None:
            scal = {f"train/{k}": v for k, v in row.items()}
            if self.trainer is not None and (row["update"] or it % self.cfg.log_interval == 0):
                scal.update({f"density/{k}": v for k, v in self.densities().items()})
            self.logger.log(it, scal)

    def _eval_and_log(self, it: int) -> bool:
        # Evaluate with the attention of the iteration just trained (inside the HSA window: sparse, §4.2).
        self.set_attention(it - 1)
        val = self.evaluate("val")
        n_train = self.cfg.eval_iters if self.cfg.train_eval_iters is None else self.cfg.train_eval_iters
        train = self.evaluate("train", n_train) if n_train > 0 else float("nan")
        best = val < self.best_val
        if best:
            self.best_val = val
        row = {"iter": it, "val_loss": val, "train_loss": train, "flops": self.flops.total,
               "flops_dense": self.flops.total_dense, "tokens": self.tokens, "density": self.realised_density()}
        self.history.append(row)
        if self.logger is not None:
            self.logger.log(it, {"eval/val_loss": val, "eval/train_loss": train,
                                 "eval/flops_total": self.flops.total, "eval/best_val_loss": self.best_val})
        return best

    def finish(self) -> dict[str, Any]:
        """Final dense-attention evaluation, sample, checkpoint and ``result.json`` (rank 0)."""
        c = self.cfg
        self.model.set_attention(None)
        final_val = self.history[-1]["val_loss"] if self.history and self.history[-1]["iter"] == self.it \
            and (self.hsa is None or not self.hsa.active(self.it - 1)) else self.evaluate("val")
        self.save(best=final_val <= self.best_val)
        masks_sum = "" if self.trainer is None else mask_checksum(self.trainer.masks[GROUP])
        agree = _gather_obj(self.info, {"masks": masks_sum, "params": param_checksum(self.model)})
        sample = ""
        if self.info.main and c.sample_tokens > 0:
            sample = self.sample(c.sample_tokens)
            (self.run_dir / "sample.txt").write_text(sample)
        result = {
            "config": asdict(c), "model_config": asdict(self.mcfg), "run_dir": str(self.run_dir),
            "world_size": self.info.world, "iterations": self.it, "tokens": self.tokens,
            "rank_checksums": agree, "mask_resyncs": self.mask_resyncs,
            "final_val_loss": final_val, "best_val_loss": self.best_val,
            "flops_total": self.flops.total, "flops_dense_total": self.flops.total_dense,
            "flops_ratio": self.flops.ratio, "flops_ratio_nohead": self.flops.ratio_nohead,
            "n_lin": self.mcfg.n_linear(), "n_total": self.mcfg.n_total(),
            "final_density": self.realised_density(), "layer_densities": self.densities(),
            "wall_time_s": self.wall, "tokens_per_s": self.tokens / self.wall if self.wall else float("nan"),
            "history": self.history, "sample": sample,
            "updates": [] if self.trainer is None else self.trainer.history,
            "data": self.corpus.meta.get("content_sha256"),
            "command": None if self.argv is None else " ".join(["python -m deeprl mst", *self.argv]),
        }
        if self.info.main:
            from simulators.cli_util import write_json

            write_json(self.run_dir / "result.json", result)
        return result

    @torch.no_grad()
    def sample(self, n_tokens: int) -> str:
        """Generate ``n_tokens`` from ``sample_prompt`` with dense attention (seeded by ``--seed``)."""
        tok = self.corpus.tokenizer
        ids = tok.encode(self.cfg.sample_prompt) or [0]
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        self.model.eval()
        out = self.model.generate(x, n_tokens, temperature=self.cfg.temperature, top_k=self.cfg.top_k,
                                  generator=self.sample_gen)
        self.model.train()
        return tok.decode(out[0].tolist())


def _slot_seed(seed: int, slot: int) -> int:
    return (seed * 1_000_003 + slot * 7919 + 17) % (2**63)


def _parse_window(text: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--hsa-window must be 'ultra' or 'START,END' iterations, got {text!r}") from None
    return a, b


def build_run(cfg: TrainConfig, out: str | Path | None = None, resume: str | Path | None = None,
              argv: list[str] | None = None) -> Run:
    """Set up a run: process group, data (prepared once), model, engine, output folder, resume state."""
    from simulators.cli_util import new_run_dir, write_json

    state = None
    if resume is not None:
        state = load_checkpoint(resume)
        saved = TrainConfig(**state["config"])
        saved.device = cfg.device
        saved.progress = cfg.progress
        cfg = saved
        rp = Path(resume)
        run_dir = rp if rp.is_dir() else rp.parent.parent
    cfg = cfg.resolved()
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {cfg.device} requested but CUDA is not available (use --device cpu)")
    info, device = init_distributed(cfg.device)
    if info.main:
        data_path = prepare(cfg.data, cfg.data_dir, cfg.tokenizer)
    data_path = _bcast_obj(info, str(data_path) if info.main else None)
    corpus = load_corpus(data_path)
    if resume is None:
        name = f"{cfg.config}-{cfg.method}-seed{cfg.seed}"
        path = str(new_run_dir(out if out is not None else "runs/mst", name)) if info.main else None
        run_dir = Path(_bcast_obj(info, path))
    run = Run(cfg, run_dir, info, device, corpus, argv)
    if state is not None:
        run.load_state_dict(state)
    elif info.main:
        write_json(run_dir / "config.json", {"config": asdict(cfg), "model_config": asdict(run.mcfg),
                                             "data": corpus.meta, "world_size": info.world,
                                             "command": None if argv is None else
                                             " ".join(["python -m deeprl mst", *argv])})
    return run


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def load_result(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "result.json").read_text())
