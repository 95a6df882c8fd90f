"""``python -m deeprl inspect CHECKPOINT [--json]``: per-layer and total density and FLOPs of a checkpoint.

Checkpoint convention (every method follows it): the checkpoint is one dict (written with
``deeprl.common.save_checkpoint`` / ``torch.save``) that holds ``SparseTrainer.state_dict()`` under the key
``"sparse"``; with several trainers (TD3: actor and critic optimizers) ``"sparse"`` is a dict of trainer
states, e.g. ``{"actor": actor_trainer.state_dict(), "critic": critic_trainer.state_dict()}``. A file that
*is* a trainer state (top-level ``"masks"``) is read too. ``CHECKPOINT`` may be a run folder: its newest
``checkpoints/step_<N>.pt`` is used. No model code is needed: shapes come from the masks and layer table.

Table: one row per matmul weight (sparse or dense) with shape, density, nnz and forward FLOPs per sample
(sparse spec eq. (14): ``2·nnz`` vs ``2·N``), then a total row per network and overall.

``--json`` prints one object: ``{"checkpoint": path, "networks": [names], "<network>": {"density",
"sparsity", "nnz", "numel", "density_all_layers", "flops_forward_sparse", "flops_forward_dense",
"inference_flops_ratio", "step", "n_topology_updates", "train_flops": {"sparse", "dense", "ratio"} | null,
"layers": [...]}, ..., "total": {...}}`` with each network's total density under its group name
(e.g. ``out["actor"]["density"]``). Errors (missing file, not a sparse checkpoint): one line, exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulators.cli_util import CliParser, cli_main

PROG = "python -m deeprl inspect"


def _trainer_states(ckpt: Any) -> list[Mapping[str, Any]]:
    if not isinstance(ckpt, Mapping):
        raise ValueError(f"checkpoint is a {type(ckpt).__name__}, not a dict holding a 'sparse' entry")
    if "masks" in ckpt and "layers" in ckpt:
        return [ckpt]
    if "sparse" not in ckpt:
        raise ValueError(f"checkpoint has no 'sparse' entry (keys: {', '.join(map(str, ckpt)) or 'none'}); "
                         "methods store SparseTrainer.state_dict() under 'sparse'")
    sp = ckpt["sparse"]
    if isinstance(sp, Mapping) and not sp:
        raise ValueError("checkpoint's 'sparse' entry is empty: every network of this run is dense")
    if isinstance(sp, Mapping) and "masks" in sp:
        return [sp]
    if isinstance(sp, Mapping) and sp and all(isinstance(v, Mapping) and "masks" in v for v in sp.values()):
        return list(sp.values())
    raise ValueError("checkpoint's 'sparse' entry is neither a SparseTrainer state_dict nor a dict of them")


def summarize(ckpt: Any) -> dict[str, Any]:
    """The ``--json`` object for a loaded checkpoint dict (see the module docstring)."""
    from deeprl.sparse.flops import layer_forward_flops
    from deeprl.sparse.trainer import layers_from_state

    out: dict[str, Any] = {"networks": []}
    tot = {"nnz": 0, "numel": 0, "flops_forward_sparse": 0, "flops_forward_dense": 0}
    for st in _trainer_states(ckpt):
        layers = layers_from_state(st)
        totals = st.get("flops", {}).get("totals", {})
        n_upd: dict[str, int] = {}
        for h in st.get("history", []):
            n_upd[h["group"]] = n_upd.get(h["group"], 0) + 1
        for g, lays in layers.items():
            if g in out:
                raise ValueError(f"network name {g!r} appears twice in the checkpoint")
            masks = st["masks"][g]
            rows = []
            for lay in lays:
                nnz = int(masks[lay.name].sum()) if lay.sparse else lay.numel
                rows.append({"layer": lay.name, "shape": list(lay.shape), "kind": lay.kind, "sparse": lay.sparse,
                             "nnz": nnz, "numel": lay.numel, "density": nnz / lay.numel,
                             "flops_sparse": layer_forward_flops(lay, nnz), "flops_dense": layer_forward_flops(lay)})
            sp_rows = [r for r in rows if r["sparse"]]
            nnz_s, num_s = sum(r["nnz"] for r in sp_rows), sum(r["numel"] for r in sp_rows)
            fs, fd = sum(r["flops_sparse"] for r in rows), sum(r["flops_dense"] for r in rows)
            tr = totals.get(f"train/{g}")
            out[g] = {
                "density": nnz_s / num_s, "sparsity": 1 - nnz_s / num_s, "nnz": nnz_s, "numel": num_s,
                "density_all_layers": sum(r["nnz"] for r in rows) / sum(r["numel"] for r in rows),
                "flops_forward_sparse": fs, "flops_forward_dense": fd, "inference_flops_ratio": fs / fd,
                "step": int(st.get("t", 0)), "n_topology_updates": n_upd.get(g, 0),
                "train_flops": None if not tr or not tr["dense"] else
                {"sparse": tr["sparse"], "dense": tr["dense"], "ratio": tr["sparse"] / tr["dense"]},
                "layers": rows,
            }
            out["networks"].append(g)
            tot["nnz"] += nnz_s
            tot["numel"] += num_s
            tot["flops_forward_sparse"] += fs
            tot["flops_forward_dense"] += fd
    tot["density"] = tot["nnz"] / tot["numel"]
    tot["inference_flops_ratio"] = tot["flops_forward_sparse"] / tot["flops_forward_dense"]
    out["total"] = tot
    return out


def format_summary(s: Mapping[str, Any]) -> str:
    """Plain-text table of :func:`summarize`'s result."""
    head = (f"{'network':<10} {'layer':<28} {'shape':<12} {'sparse':>6} {'density':>8} {'nnz':>9} "
            f"{'FLOPs sparse':>13} {'FLOPs dense':>12} {'ratio':>6}")
    lines = [head, "-" * len(head)]
    for g in s["networks"]:
        n = s[g]
        for r in n["layers"]:
            shape = "x".join(map(str, r["shape"]))
            lines.append(f"{g:<10} {r['layer']:<28} {shape:<12} {'yes' if r['sparse'] else 'no':>6} "
                         f"{r['density']:>8.4f} {r['nnz']:>9d} {r['flops_sparse']:>13d} {r['flops_dense']:>12d} "
                         f"{r['flops_sparse'] / r['flops_dense']:>6.3f}")
        lines.append(f"{g:<10} {'TOTAL (sparse layers)':<28} {'':<12} {'':>6} {n['density']:>8.4f} {n['nnz']:>9d} "
                     f"{n['flops_forward_sparse']:>13d} {n['flops_forward_dense']:>12d} "
                     f"{n['inference_flops_ratio']:>6.3f}")
        extra = f"step {n['step']}, {n['n_topology_updates']} topology updates"
        if n["train_flops"]:
            extra += f", training FLOPs ratio {n['train_flops']['ratio']:.4f}"
        lines.append(f"{'':<10} {extra}")
        lines.append("")
    t = s["total"]
    lines.append(f"{'all':<10} {'TOTAL':<28} {'':<12} {'':>6} {t['density']:>8.4f} {t['nnz']:>9d} "
                 f"{t['flops_forward_sparse']:>13d} {t['flops_forward_dense']:>12d} {t['inference_flops_ratio']:>6.3f}")
    return "\n".join(lines)


def _load(path: str) -> Any:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    from deeprl.common.checkpoint import load_checkpoint  # imports torch: only once the path exists

    try:
        return load_checkpoint(p)
    except FileNotFoundError:
        raise
    except Exception as exc:  # unpickling errors come in many types
        raise ValueError(f"cannot read {path} as a torch checkpoint: {type(exc).__name__}: {exc}") from None


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m deeprl inspect CHECKPOINT [--json]``."""
    ap = CliParser(prog=PROG, description="Per-layer and total density and FLOPs of a sparse checkpoint.")
    ap.add_argument("checkpoint", help="checkpoint file, or a run folder (newest checkpoints/step_<N>.pt)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--seed", type=int, default=0, help="accepted for uniformity; inspect is deterministic")
    args = ap.parse_args(None if argv is None else list(argv))
    s = summarize(_load(args.checkpoint))
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint), **s}, indent=2))
    else:
        print(f"checkpoint: {args.checkpoint}")
        print(format_summary(s))
    return 0
