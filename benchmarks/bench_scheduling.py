"""Benchmark: the vectorised scheduling env against a per-packet pure-Python loop (issue 8).

Both run the same system (RSD4 spec §1: transmit with eq. (5), shift/expire eqs. (2)-(3), arrivals,
Markov channel step, reward eq. (8)) for whole episodes of H = 100 slots with 20 users (preset
``code``: Poisson arrivals A ~ U{2..5}, tau ~ U{1..6}) under the same fixed policy (every packet gets
energy 0.5, given as a per-counter table to both). The reference keeps each packet as a Python object
with its remaining lifetime, looks up its energy, and draws one uniform per packet against eq. (5).
Two vectorised rows: the gymnasium ``SchedulingEnv`` (reset + 100 ``step`` calls, one Numba kernel
per step, so ~5-10 us of Python call overhead per step remains), and
``SchedulingBatch`` (``--batch`` episodes in lock-step, one kernel call per slot for all of them; time
per episode = batch time / batch size). All are timed in the same process, interleaved, best of
``--repeats``, in CPU time of the process (``time.process_time``; the machine is shared, so wall time
would count waiting for a core); the ratios against the Python loop are the claim (goal >= 20x).

    python benchmarks/bench_scheduling.py [--users 20] [--episodes 32] [--batch 64] [--repeats 5] [--seed 0]
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cli_util import CliParser, positive_int  # noqa: E402
from simulators.scheduling import SchedulingEnv, make_instance  # noqa: E402
from simulators.scheduling.vector import SchedulingBatch  # noqa: E402


def python_episode(inst, energies: list[list[float]], lam: float, seed: int) -> tuple[float, float]:
    """One episode of the same system, packet by packet, in pure Python (the reference).

    ``energies[i][k]`` is the per-packet energy of user i's packets with k slots left (the same action
    space as the env); each packet's success probability is eq. (5) at its own energy.
    """
    rnd = random.Random(seed)
    n, H, nc = inst.n_users, inst.horizon, inst.n_channels
    tau = [int(x) for x in inst.tau]
    beta = [float(x) for x in inst.beta]
    kd = [float(x) ** 3 for x in inst.dist]
    rates = [float(x) for x in inst.arrivals.rates]
    cum = [[list(np.cumsum(inst.kernels[i, c])) for c in range(nc)] for i in range(n)]
    chan = [rnd.randrange(nc) for _ in range(n)]
    queues: list[list[int]] = [[] for _ in range(n)]  # one entry per packet: its remaining lifetime k
    total_r = total_e = 0.0
    for _t in range(H):
        for i in range(n):
            kc = kd[i] * (chan[i] + 1)
            e_i = energies[i]
            kept = []
            s = 0
            e_used = 0.0
            for k in queues[i]:
                e = e_i[k]
                e_used += e
                if rnd.random() < math.tanh(e / kc):
                    s += 1
                elif k > 0:
                    kept.append(k - 1)  # shift toward index 0; k == 0 expires
            # arrivals: Poisson(A_i) by Knuth's product of uniforms
            limit, prod, a = math.exp(-rates[i]), rnd.random(), 0
            while prod > limit:
                prod *= rnd.random()
                a += 1
            kept.extend([tau[i]] * a)
            queues[i] = kept
            total_r += beta[i] * s - lam * e_used
            total_e += e_used
            u, row, c = rnd.random(), cum[i][chan[i]], 0
            while c < nc - 1 and u > row[c]:
                c += 1
            chan[i] = c
    return total_r, total_e


def env_episode(env: SchedulingEnv, action: np.ndarray, seed: int) -> tuple[float, float]:
    env.reset(seed=seed)
    total_r = total_e = 0.0
    for _t in range(env.horizon):
        _, r, _, _, info = env.step(action)
        total_r += r
        total_e += info["E"].sum()
    return total_r, total_e


def batch_episodes(batch: SchedulingBatch, actions: np.ndarray, seed: int) -> tuple[float, float]:
    batch.reset(seed=seed)
    total_r = total_e = 0.0
    for _t in range(batch.horizon):
        _, r, _, info = batch.step(actions)
        total_r += r.sum()
        total_e += info["E"].sum()
    return total_r, total_e


def main(argv: list[str] | None = None) -> int:
    ap = CliParser(prog="bench_scheduling", description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=positive_int, default=20)
    ap.add_argument("--episodes", type=positive_int, default=32)
    ap.add_argument("--batch", type=positive_int, default=64)
    ap.add_argument("--repeats", type=positive_int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    inst = make_instance(args.seed, "code", n_users=args.users)
    env = SchedulingEnv(inst, lam=1.0)
    batch = SchedulingBatch(inst, args.batch, lam=1.0)
    energy = 0.5
    action = env.energies_to_action(np.full(env.buffer_size, energy))
    actions = np.tile(action, (args.batch, 1))
    table = [[energy] * (int(t) + 1) for t in inst.tau]
    env_episode(env, action, 0)  # JIT warm-up (cached on disk after the first run)
    batch_episodes(batch, actions, 0)
    rows = {"py": [], "env": [], "batch": []}
    sums = {k: [0.0, 0.0, 0] for k in rows}
    for rep in range(args.repeats):
        base = args.seed * 10_000 + rep * 1000
        t0 = time.process_time()
        for ep in range(args.episodes):
            r, e = python_episode(inst, table, 1.0, base + ep)
            sums["py"][0] += r
            sums["py"][1] += e
            sums["py"][2] += 1
        rows["py"].append((time.process_time() - t0) / args.episodes)
        t0 = time.process_time()
        for ep in range(args.episodes):
            r, e = env_episode(env, action, base + ep)
            sums["env"][0] += r
            sums["env"][1] += e
            sums["env"][2] += 1
        rows["env"].append((time.process_time() - t0) / args.episodes)
        t0 = time.process_time()
        r, e = batch_episodes(batch, actions, base)
        sums["batch"][0] += r
        sums["batch"][1] += e
        sums["batch"][2] += args.batch
        rows["batch"].append((time.process_time() - t0) / args.batch)
    names = {
        "py": "per-packet pure-Python loop",
        "env": "SchedulingEnv (gym API, 1 episode)",
        "batch": f"SchedulingBatch ({args.batch} episodes)",
    }
    print(
        f"scheduling system, {args.users} users, H = {inst.horizon}, energy {energy} per packet; "
        f"best of {args.repeats} repeats (process CPU time)"
    )
    print(f"{'implementation':<38}{'ms / episode':>13}{'speed-up':>10}{'reward / ep':>13}{'energy / ep':>13}")
    best_py = min(rows["py"])
    for k, name in names.items():
        best = min(rows[k])
        r, e, cnt = sums[k]
        print(f"{name:<38}{best * 1e3:>13.3f}{best_py / best:>9.1f}x{r / cnt:>13.1f}{e / cnt:>13.1f}")
    ratio_env, ratio_batch = best_py / min(rows["env"]), best_py / min(rows["batch"])
    print(
        f"goal >= 20x: single-episode gym API {ratio_env:.1f}x ({'met' if ratio_env >= 20 else 'NOT met'}), "
        f"lock-step batch {ratio_batch:.1f}x ({'met' if ratio_batch >= 20 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
