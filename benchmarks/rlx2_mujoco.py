"""RLx2-TD3 vs dense TD3 on MuJoCo: the reduced-budget reproduction protocol (spec §2.5 Tier A, §4 E-R1).

Every (env, method, seed) is one ``python -m deeprl rlx2`` run in its own process and folder; seeds run in
parallel (``--workers`` local processes, or ``--backend ray`` on an existing Ray cluster). The script is
itself resumable: a finished run (``summary.json``) is skipped, an interrupted one is continued with
``--resume``. When all runs are done it writes, under ``--out``:

- ``results.json`` and ``results.md``: per env and method, final score (mean of the last k evaluations)
  with a 95 % bootstrap CI over seeds, the raw ratio P = mean sparse / mean dense (spec eq. 38) and the
  normalised ratio P~ (eq. 39, random-policy score measured on the same evaluation seeds), both with
  bootstrap CIs (both arms resampled), actor/critic sparsity, training and inference FLOPs ratios, total
  size incl. targets, and the measured env-steps/s;
- ``inference_speed.md`` (and ``figures/rlx2_mujoco_<tag>_inference_speed.md``): wall-clock time of one
  RLx2 actor exported to the sparse format vs its masked dense form at batch 1 and 256
  (``deeprl.sparse.benchmark_inference``), measured in this report; the actor is the first RLx2 run under
  ``--out`` whose checkpoints are on disk (archived runs keep no weights);
- ``figures/rlx2_mujoco_<tag>_curves.png`` and ``figures/rlx2_mujoco_<tag>.md`` (under ``--figures``):
  evaluation return vs env steps, mean over seeds with a 95 % bootstrap band, and a copy of the table
  (``<tag>`` = ``T<steps>`` plus any non-Tier-A warm-up / scored evals, see :func:`budget_tag`).

Runs accumulate across sittings (``benchmarks/run_archive.py``): each finished run's ``summary.json``
(scores, evaluation curve, FLOPs, its full config) is copied, with its command and the last commit of the
code it imports, to ``--archive``/``<tag>/<env>/<method>/seed<s>.json`` (default
``benchmarks/results/rlx2_mujoco``, kept in the repository). A run with an archive entry is not run again
and the report reads the archive, so a budget too large for one sitting (Tier A, dense + RLx2 x 2 envs x
3 seeds, is 7-8 CPU-hours) is run a few seeds at a time (``--seeds``) and reported with ``--report-only``:
each env on those of ``--seeds`` finished for every method (its own count in the table's "seeds" column).
The recorded command at the recorded commit reproduces an entry.

Budgets: default = Tier A (T = 3e5 env steps, warm-up 2.5e4, topology interval 5e3, n-step switch at 3e4,
buffer min 5e4 / max 1e6, checks every 1e4, eval every 5e3 x 10 episodes, score = last 10 evals).
``--total-steps T`` rescales the switch (0.1 T), topology interval and buffer minimum by the spec §2.5 rule;
``--warmup`` and ``--score-last`` override the warm-up and the number of final evaluations scored (a
shorter run wants both smaller: at T = 1e5 the Tier A values would spend a quarter of the run on random
actions and score half of it).
``--full`` = the paper's GPU-scale setting (T = 3e6, interval 1e4, switch 3e5, min 1e5, score = last 30
evals). Sparsities (actor/critic) are RLx2 Table 2's TD3 values: Hopper 98/95, HalfCheetah 90/85,
Walker2d 97/95, Ant 96/88.

Example (reduced budget, 2 cores):
    python benchmarks/rlx2_mujoco.py --envs Hopper-v5,HalfCheetah-v5 --methods dense,rlx2 --seeds 0,1,2
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.run_archive import RESULTS, archive_summary, code_version, read_archived  # noqa: E402
from simulators.cli_util import (  # noqa: E402
    CliParser,
    choice_list,
    cli_main,
    csv_of,
    nonneg_int,
    positive_int,
    write_json,
)

PROG = "benchmarks/rlx2_mujoco.py"
ARCHIVE = RESULTS / "rlx2_mujoco"

SPARSITY = {"Hopper": (0.98, 0.95), "HalfCheetah": (0.90, 0.85), "Walker2d": (0.97, 0.95), "Ant": (0.96, 0.88)}
BASE = ["--multistep", "off", "--dynamic-buffer", "off"]
METHODS: dict[str, list[str]] = {
    "dense": ["--dense", *BASE],
    "tiny": ["--dense", *BASE],  # + --hidden/--critic-hidden from eq. (26), see tiny_args
    "ss": ["--topology", "static", *BASE],
    "set": ["--topology", "set", *BASE],
    "rigl": ["--topology", "rigl", *BASE],
    "rlx2": ["--topology", "rigl", "--multistep", "delayed", "--n-step", "3", "--dynamic-buffer", "on"],
    "rlx2-no-multistep": ["--topology", "rigl", "--multistep", "off", "--dynamic-buffer", "on"],
    "rlx2-no-dynbuffer": ["--topology", "rigl", "--multistep", "delayed", "--n-step", "3", "--dynamic-buffer", "off"],
    "rlx2-set": ["--topology", "set", "--multistep", "delayed", "--n-step", "3", "--dynamic-buffer", "on"],
}
TIER_A = {
    "total": 300_000,
    "warmup": 25_000,
    "interval": 5_000,
    "t_switch": 30_000,
    "buffer_min": 50_000,
    "check": 10_000,
    "eval_interval": 5_000,
    "eval_episodes": 10,
    "last": 10,
}
FULL = {**TIER_A, "total": 3_000_000, "interval": 10_000, "t_switch": 300_000, "buffer_min": 100_000, "last": 30}
SMOKE = {
    "total": 5_000,
    "warmup": 1_000,
    "interval": 500,
    "t_switch": 500,
    "buffer_min": 2_000,
    "check": 1_000,
    "eval_interval": 1_000,
    "eval_episodes": 2,
    "last": 2,
}  # spec Tier S: plumbing only, no claim


def budget_tag(budget: dict[str, int]) -> str:
    """Folder/figure tag of a budget: ``T<steps>``, plus the warm-up and scored evals when not Tier A's."""
    tag = f"T{budget['total']}"
    if budget["warmup"] != TIER_A["warmup"]:
        tag += f"_warmup{budget['warmup']}"
    if budget["last"] != TIER_A["last"]:
        tag += f"_last{budget['last']}"
    return tag


def env_sparsity(env: str) -> tuple[float, float]:
    for k, v in SPARSITY.items():
        if env.startswith(k):
            return v
    raise ValueError(f"--envs: no RLx2 sparsity known for {env!r}; known: {', '.join(SPARSITY)}")


def run_args(env: str, method: str, seed: int, budget: dict[str, int], run_dir: Path, device: str) -> list[str]:
    """The ``python -m deeprl rlx2`` arguments of one run."""
    sa, sc = env_sparsity(env)
    return [
        "--algo",
        "td3",
        "--env",
        env,
        "--seed",
        str(seed),
        "--total-steps",
        str(budget["total"]),
        "--warmup",
        str(budget["warmup"]),
        "--topology-interval",
        str(budget["interval"]),
        "--t-switch",
        str(budget["t_switch"]),
        "--buffer-min",
        str(budget["buffer_min"]),
        "--buffer-max",
        "1000000",
        "--buffer-check-interval",
        str(budget["check"]),
        "--eval-interval",
        str(budget["eval_interval"]),
        "--eval-episodes",
        str(budget["eval_episodes"]),
        "--score-last-evals",
        str(budget["last"]),
        "--actor-sparsity",
        str(sa),
        "--critic-sparsity",
        str(sc),
        "--device",
        device,
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(run_dir),
        *METHODS[method],
        *(tiny_args(env, sa, sc) if method == "tiny" else []),
    ]


def tiny_args(env: str, sa: float, sc: float) -> list[str]:
    """Widths of the dense Tiny actor and critic with the sparse nets' parameter counts (spec eq. 26)."""
    from deeprl.rlx2.networks import tiny_width
    from deeprl.rlx2.train import make_env

    e = make_env(env)
    n_obs, n_act = e.observation_space.shape[0], e.action_space.shape[0]
    e.close()
    return ["--hidden", str(tiny_width(n_obs, n_act, sa)), "--critic-hidden", str(tiny_width(n_obs + n_act, 1, sc))]


def archive_file(archive: Path, budget: dict[str, int], env: str, method: str, seed: int) -> Path:
    """Where one run's summary is kept: ``<archive>/<budget tag>/<env>/<method>/seed<seed>.json``."""
    return Path(archive) / budget_tag(budget) / env / method / f"seed{seed}.json"


def launch(args: list[str], run_dir: Path, archived: Path | None = None, code: str = "unknown") -> dict[str, Any]:
    """Run (or resume, or skip) one training run in a subprocess; return its summary.

    A run with an ``archived`` summary is skipped; a finished one is archived (with ``code`` and its command)."""
    run_dir = Path(run_dir)
    if (kept := read_archived(archived)) is not None:
        return kept
    summ = run_dir / "summary.json"
    if not summ.exists():
        if (run_dir / "config.json").exists():
            cmd = [sys.executable, "-m", "deeprl", "rlx2", "--resume", str(run_dir), "--no-progress"]
        else:
            cmd = [sys.executable, "-m", "deeprl", "rlx2", *args]
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(run_dir.parent / f"{run_dir.name}.log", "a") as log:
            rc = subprocess.run(
                cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"}
            ).returncode
        if rc != 0 or not summ.exists():
            raise RuntimeError(f"run {run_dir} failed (exit {rc}); see {run_dir.parent / (run_dir.name + '.log')}")
    summary = json.loads(summ.read_text())
    if archived is not None:
        archive_summary(archived, summary, ["python", "-m", "deeprl", "rlx2", *args], code)
    return summary


def run_all(
    jobs: list[tuple[list[str], Path, Path | None]], workers: int, backend: str, ray_address: str | None, code: str
) -> list[str]:
    """Run every job; return one line per failed run (the others still finish and are archived)."""
    if backend == "ray":
        import ray

        ray.init(address=ray_address or "auto")
        remote = ray.remote(num_cpus=1)(launch)
        refs = [remote.remote(a, d, f, code) for a, d, f in jobs]
        failed = []
        for ref in refs:
            try:
                ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a failed remote run is reported, not raised
                failed.append(str(exc).splitlines()[-1])
        return failed
    with ThreadPoolExecutor(max_workers=workers) as pool:  # threads only wait on child processes
        futures = [pool.submit(launch, a, d, f, code) for a, d, f in jobs]
        return [str(fut.exception()) for fut in futures if fut.exception() is not None]


def load_summary(out: Path, archive: Path | None, budget: dict[str, int], env: str, method: str, seed: int) -> dict:
    """A run's summary: the archived copy if there is one, else the run folder's ``summary.json``."""
    if archive is not None and (kept := read_archived(archive_file(archive, budget, env, method, seed))):
        return kept
    f = out / env / method / f"seed{seed}" / "summary.json"
    if not f.exists():
        raise FileNotFoundError(f"--report-only: no finished run for {env} {method} seed {seed} ({f})")
    return json.loads(f.read_text())


def paired_summaries(
    out: Path, archive: Path | None, budget: dict[str, int], env: str, methods: list[str], seeds: list[int]
) -> tuple[list[int], dict[str, list[dict]]]:
    """The seeds of ``seeds`` finished for every method on ``env`` and, per method, their summaries in seed
    order (paired comparison; envs may differ, so one env's extra seeds are reported while another's are
    still to run); none at all is an error."""
    done: list[int] = []
    summaries: dict[str, list[dict]] = {m: [] for m in methods}
    for s in seeds:
        try:
            row = {m: load_summary(out, archive, budget, env, m, s) for m in methods}
        except FileNotFoundError as err:
            print(f"{PROG}: {env} seed {s} left out of the report: {err}", file=sys.stderr)
            continue
        done.append(s)
        for m in methods:
            summaries[m].append(row[m])
    if not done:
        raise FileNotFoundError(f"--report-only: no seed of {seeds} is finished for every method on {env}")
    return done, summaries


# ------------------------------------------------------------------------------------------ report
def eval_curve(summary: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(steps, eval/return) from a run's summary."""
    ev = summary["evaluations"]
    return np.array([e["step"] for e in ev]), np.array([e["mean"] for e in ev])


def bootstrap_ci(x: np.ndarray, rng: np.random.Generator, n: int = 10_000) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return float("nan"), float("nan")
    means = x[rng.integers(0, len(x), size=(n, len(x)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def ratio_ci(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, base: float = 0.0, n: int = 10_000
) -> tuple[float, float, float]:
    """(point, lo, hi) of (mean a - base)/(mean b - base), both arms resampled (spec §4)."""
    point = (a.mean() - base) / (b.mean() - base)
    if len(a) < 2 or len(b) < 2:
        return float(point), float("nan"), float("nan")
    ra = a[rng.integers(0, len(a), size=(n, len(a)))].mean(axis=1)
    rb = b[rng.integers(0, len(b), size=(n, len(b)))].mean(axis=1)
    r = (ra - base) / (rb - base)
    return float(point), float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5))


def random_score(env_id: str, episodes: int, seed: int) -> float:
    """Mean return of the uniform random policy on the evaluation seeds (for eq. 39)."""
    from deeprl.rlx2.train import EVAL_SEED_BASE, make_env

    env = make_env(env_id)
    rng = np.random.default_rng(seed)
    rets = []
    for j in range(episodes):
        env.reset(seed=EVAL_SEED_BASE + 1000 * seed + j)
        done, ret = False, 0.0
        while not done:
            _, r, term, trunc, _ = env.step(rng.uniform(env.action_space.low, env.action_space.high))
            ret += float(r)
            done = term or trunc
        rets.append(ret)
    return float(np.mean(rets))


def inference_speed(run_dir: Path) -> str:
    """Benchmark an RLx2 actor from its final checkpoint: CSR export vs masked dense, batch 1 and 256."""
    import torch

    from deeprl.common import load_checkpoint
    from deeprl.rlx2.config import RLx2Config
    from deeprl.rlx2.networks import DeterministicActor
    from deeprl.sparse import benchmark_inference, format_table

    ck = load_checkpoint(run_dir)
    cfg = RLx2Config.from_dict(ck["config"])
    sd = ck["agent"]["actor"]
    w0 = sd["net.0.weight"]
    act_dim = sd["net.4.weight"].shape[0]
    actor = DeterministicActor(w0.shape[1], act_dim, -np.ones(act_dim), np.ones(act_dim), (cfg.hidden, cfg.hidden))
    actor.load_state_dict(sd)
    rows = benchmark_inference(actor.net, batch_sizes=(1, 256), threads=(1, 2), min_sparsity=0.8)
    dens = {k: float((v != 0).float().mean()) for k, v in sd.items() if k.endswith("weight")}
    torch.set_num_threads(1)
    return f"actor of {run_dir} (layer densities {dens})\n\n" + format_table(rows)


def report(
    out: Path,
    envs: list[str],
    methods: list[str],
    seeds: list[int],
    budget: dict[str, int],
    figures: Path,
    seed: int,
    archive: Path | None = None,
) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {"budget": budget, "seeds": seeds, "envs": {}}
    fig, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 4), squeeze=False)
    lines = [
        f"Budget: {budget['total']} env steps, seeds {seeds} (per env: those finished for every method); score = "
        f"mean of the last {budget['last']} evaluations ({budget['eval_episodes']} episodes each); CIs: 95 % "
        "bootstrap over seeds.",
        "",
        "| env | method | seeds | actor/critic sparsity | score (95% CI) | P = sparse/dense (CI) | P~ normalised (CI) "
        "| train FLOPs | inference FLOPs | total size | env steps/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ax, env in zip(axes[0], envs):
        env_seeds, env_summaries = paired_summaries(out, archive, budget, env, methods, seeds)
        r_rand = random_score(env, budget["eval_episodes"], 0)
        env_res: dict[str, Any] = {"random_score": r_rand, "seeds": env_seeds, "methods": {}}
        scores: dict[str, np.ndarray] = {}
        for m in methods:
            summ = env_summaries[m]
            scores[m] = np.array([s["score"] for s in summ])
            curves = [eval_curve(x) for x in summ]
            steps = curves[0][0]
            ys = np.stack([c[1][: len(steps)] for c in curves])
            lo_hi = np.array([bootstrap_ci(ys[:, i], rng, 2000) for i in range(ys.shape[1])])
            ax.plot(steps, ys.mean(0), marker="o" if len(steps) < 20 else None, label=m)
            if len(env_seeds) > 1:
                ax.fill_between(steps, lo_hi[:, 0], lo_hi[:, 1], alpha=0.25)
            env_res["methods"][m] = {
                "scores": scores[m].tolist(),
                "score_mean": float(scores[m].mean()),
                "score_ci": bootstrap_ci(scores[m], rng),
                "actor_sparsity": float(np.mean([s["actor_sparsity"] for s in summ])),
                "critic_sparsity": float(np.mean([s["critic_sparsity"] for s in summ])),
                "train_flops_ratio": float(np.mean([s["train_flops_ratio"] for s in summ])),
                "inference_flops_ratio": float(np.mean([s["inference_flops_ratio"] for s in summ])),
                "total_size_ratio": float(np.mean([s["total_size_ratio"] for s in summ])),
                "steps_per_second": float(np.mean([s["steps_per_second"] for s in summ])),
            }
        if "tiny" in methods and "dense" in methods:  # Tiny is dense at its own width: ratios vs the 256-wide net
            tiny, dense = env_summaries["tiny"], env_summaries["dense"]
            e = env_res["methods"]["tiny"]
            e["train_flops_ratio"] = float(
                np.mean([t["train_flops_sparse"] / d["train_flops_dense"] for t, d in zip(tiny, dense)])
            )
            fa, fq = tiny[0]["forward_flops"], dense[0]["forward_flops_dense"]
            e["inference_flops_ratio"] = fa["actor"] / fq["actor"]
            e["total_size_ratio"] = (2 * fa["actor"] + 2 * fa["critic"]) / (2 * fq["actor"] + 2 * fq["critic"])
        for m in methods:
            e = env_res["methods"][m]
            if "dense" in scores:
                e["P"] = ratio_ci(scores[m], scores["dense"], rng)
                e["P_normalised"] = ratio_ci(scores[m], scores["dense"], rng, base=r_rand)
            p = e.get("P", (float("nan"),) * 3)
            pn = e.get("P_normalised", (float("nan"),) * 3)
            lines.append(
                f"| {env} | {m} | {len(env_seeds)} | {e['actor_sparsity']:.3f}/{e['critic_sparsity']:.3f} | "
                f"{e['score_mean']:.0f} ({e['score_ci'][0]:.0f}, {e['score_ci'][1]:.0f}) | "
                f"{p[0]:.3f} ({p[1]:.3f}, {p[2]:.3f}) | {pn[0]:.3f} ({pn[1]:.3f}, {pn[2]:.3f}) | "
                f"{e['train_flops_ratio']:.3f} | {e['inference_flops_ratio']:.3f} | {e['total_size_ratio']:.3f} | "
                f"{e['steps_per_second']:.0f} |"
            )
        results["envs"][env] = env_res
        ax.set_title(f"{env} (TD3, {budget['total']:,} steps, {len(env_seeds)} seeds, 95% CI)")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation return")
        ax.legend()
    fig.tight_layout()
    figures.mkdir(parents=True, exist_ok=True)
    fig.savefig(figures / f"rlx2_mujoco_{budget_tag(budget)}_curves.png", dpi=120)
    write_json(out / "results.json", results)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (figures / f"rlx2_mujoco_{budget_tag(budget)}.md").write_text("\n".join(lines) + "\n")
    # needs the weights, which the archive does not keep: the first RLx2 run of this sitting that has them
    actor_run = next(
        (d for e in envs for s in seeds if ((d := out / e / "rlx2" / f"seed{s}") / "checkpoints").exists()), None
    )
    if "rlx2" in methods and actor_run is not None:
        speed = inference_speed(actor_run) + "\n"
        (out / "inference_speed.md").write_text(speed)
        (figures / f"rlx2_mujoco_{budget_tag(budget)}_inference_speed.md").write_text(speed)
    print("\n".join(lines))
    return results


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    p = CliParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", type=csv_of(str), default=["Hopper-v5", "HalfCheetah-v5"])
    p.add_argument("--methods", type=choice_list(list(METHODS)), default=["dense", "rlx2"])
    p.add_argument("--seeds", type=csv_of(int), default=[0, 1, 2, 3, 4])
    p.add_argument("--full", action="store_true", help="the paper's 3e6-step setting (GPU scale)")
    p.add_argument("--smoke", action="store_true", help="spec Tier S (5e3 steps): checks the plumbing only")
    p.add_argument("--total-steps", type=positive_int, default=None, help="override the budget's T")
    p.add_argument("--warmup", type=positive_int, default=None, help="override the budget's warm-up steps")
    p.add_argument("--score-last", type=positive_int, default=None, help="override how many final evals are scored")
    p.add_argument("--workers", type=positive_int, default=2, help="parallel runs (local backend)")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--ray-address", default=None, help="existing Ray cluster (default: 'auto')")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="runs/bench/rlx2_mujoco", help="root of all runs (reused to resume)")
    p.add_argument("--figures", default="figures")
    p.add_argument(
        "--archive",
        default=None,
        help=f"where finished runs' summaries are kept and read (default {ARCHIVE.relative_to(ROOT)}; 'none': "
        "keep nothing; --smoke keeps nothing unless given)",
    )
    p.add_argument("--report-only", action="store_true", help="only aggregate finished runs")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the bootstrap and the random policy")
    a = p.parse_args(argv)
    for env in a.envs:
        env_sparsity(env)
    if any(s < 0 for s in a.seeds):
        raise ValueError("--seeds must be non-negative integers")
    if a.full and a.smoke:
        raise ValueError("--full and --smoke exclude each other")
    budget = dict(FULL if a.full else SMOKE if a.smoke else TIER_A)
    if a.warmup is not None:
        if a.warmup >= (a.total_steps or budget["total"]):
            raise ValueError(f"--warmup must be below the run's {a.total_steps or budget['total']} env steps")
        budget["warmup"] = a.warmup
    if a.total_steps is not None:
        if a.total_steps <= budget["warmup"]:
            raise ValueError(f"--total-steps must exceed the warm-up of {budget['warmup']} steps")
        T = a.total_steps
        budget.update(
            total=T,
            t_switch=int(0.1 * T),
            interval=int(min(max(T / 60, 1_000), 10_000)),
            buffer_min=int(min(max(T / 30, 50_000), 100_000)),
        )
    if a.score_last is not None:
        if a.score_last > budget["total"] // budget["eval_interval"]:
            raise ValueError(
                f"--score-last must be at most the run's {budget['total'] // budget['eval_interval']} evaluations"
            )
        budget["last"] = a.score_last
    out = Path(a.out) / budget_tag(budget)
    archive = None if a.archive == "none" or (a.archive is None and a.smoke) else ROOT / (a.archive or ARCHIVE)
    jobs = [
        (
            run_args(env, m, s, budget, out / env / m / f"seed{s}", a.device),
            out / env / m / f"seed{s}",
            None if archive is None else archive_file(archive, budget, env, m, s),
        )
        for env in a.envs
        for s in a.seeds
        for m in a.methods
    ]
    if not a.report_only:
        t0 = time.perf_counter()
        failed = run_all(jobs, a.workers, a.backend, a.ray_address, code_version())
        print(f"{len(jobs) - len(failed)} of {len(jobs)} runs done in {time.perf_counter() - t0:.0f} s")
        if failed:
            print("\n".join(f"{PROG}: {line}" for line in failed), file=sys.stderr)
            return 1
    report(out, a.envs, a.methods, a.seeds, budget, Path(a.figures), a.seed, archive)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
