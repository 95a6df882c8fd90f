"""Benchmark: the scheduling env through the gymnasium API, the lock-step batch, its gymnasium vector
env, and a per-packet pure-Python loop, in one interleaved run (issue 8: the env at >= 20x the Python
loop).

All three run the same system (RSD4 spec §1: transmit with eq. (5), shift/expire eqs. (2)-(3),
arrivals, Markov channel step, reward eq. (8)) for whole episodes of H = 100 slots with 20 users
(preset ``code``: Poisson arrivals A ~ U{2..5}, tau ~ U{1..6}) under the same fixed policy (every
packet gets energy 0.5, given as a per-counter table to the reference). Rows:

- the reference keeps each packet as a Python object with its remaining lifetime, looks up its
  energy, and draws one uniform per packet against eq. (5) (``random.Random`` seeded per episode);
- ``SchedulingEnv``: what an RL loop does, ``env.reset(seed=s)`` then 100 ``env.step(action)``
  calls through the gymnasium API, adding up the returned reward (one Numba kernel per step);
- ``SchedulingBatch``: ``--batch`` episodes in lock-step, one kernel call per slot for all of them;
  time per episode = batch time / batch size;
- gymnasium VectorEnv: the same lock-step batch through the standard vector API,
  ``gymnasium.make_vec("simulators/Scheduling-v0", num_envs=--batch, vectorization_mode="vector_entry_point")``
  (``SchedulingVectorEnv``), ``envs.reset(seed=s)`` then ``envs.step(actions)`` until the sub-envs
  truncate, adding up the reward arrays; time per episode = batch time / batch size.

Each repeat runs the four in turn (interleaved), each over ``--episodes`` episodes (the batch over
one batch), timed in CPU time of the process (``time.process_time``: the machine is shared, so wall
time would count waiting for a core); the table shows the best repeat and the ratio of the
reference's best to each row's best, the claim (goal >= 20x), plus the median of the per-repeat
ratios. The load average (``os.getloadavg``) is printed before and after. Mean reward and energy
per episode (energy from an untimed pass over the same seeds) show that the rows simulate the same
system (they use different random streams, so they agree only statistically).

    OMP_NUM_THREADS=1 python benchmarks/bench_scheduling.py [--users 20] [--episodes 20] [--batch 64] \
        [--repeats 5] [--seed 0]
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cli_util import CliParser, positive_int  # noqa: E402
from simulators.scheduling import SchedulingEnv, make_instance  # noqa: E402
from simulators.scheduling.vector import SchedulingBatch  # noqa: E402
from simulators.scheduling.vector_env import SchedulingVectorEnv  # noqa: E402


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


def env_episode(env: SchedulingEnv, action: np.ndarray, seed: int) -> float:
    """One gymnasium episode: reset with a seed, step to truncation, sum the rewards."""
    env.reset(seed=seed)
    total_r = 0.0
    truncated = False
    while not truncated:
        _, r, _, truncated, _ = env.step(action)
        total_r += r
    return total_r


def batch_episodes(batch: SchedulingBatch, actions: np.ndarray, seed: int) -> float:
    """One lock-step batch of episodes; the summed reward of all of them."""
    batch.reset(seed=seed)
    total_r = 0.0
    truncated = False
    while not truncated:
        _, r, truncated, _ = batch.step(actions)
        total_r += r.sum()
    return total_r


def vector_env_episodes(envs: SchedulingVectorEnv, actions: np.ndarray, seed: int) -> float:
    """One batch of episodes through the gymnasium vector API: reset with a seed, step until the
    sub-envs truncate (together, at t = H); the summed reward of all of them."""
    envs.reset(seed=seed)
    total_r = 0.0
    truncated = np.zeros(envs.num_envs, dtype=bool)
    while not truncated.all():
        _, r, _, truncated, _ = envs.step(actions)
        total_r += r.sum()
    return total_r


def energy_per_episode(env: SchedulingEnv, batch: SchedulingBatch, envs: SchedulingVectorEnv, action: np.ndarray,
                       actions: np.ndarray, seeds: list[int]) -> tuple[float, float, float]:
    """Mean energy per episode of the env over ``seeds`` and of one batch / vector-env batch per seed
    (untimed check)."""
    e_env = e_batch = e_vec = 0.0
    for seed in seeds:
        env.reset(seed=seed)
        for _t in range(env.horizon):
            e_env += env.step(action)[4]["E"].sum()
        batch.reset(seed=seed)
        for _t in range(batch.horizon):
            e_batch += batch.step(actions)[3]["E"].sum()
        envs.reset(seed=seed)
        for _t in range(envs.horizon):
            e_vec += envs.step(actions)[4]["E"].sum()
    n = len(seeds)
    return e_env / n, e_batch / (n * batch.num_envs), e_vec / (n * envs.num_envs)


def load_average() -> str:
    """The 1/5/15-minute load averages of the machine (how busy the shared cores were)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = CliParser(prog="bench_scheduling", description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=positive_int, default=20)
    ap.add_argument("--episodes", type=positive_int, default=20)
    ap.add_argument("--batch", type=positive_int, default=64)
    ap.add_argument("--repeats", type=positive_int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    inst = make_instance(args.seed, "code", n_users=args.users)
    env = SchedulingEnv(inst, lam=1.0)
    batch = SchedulingBatch(inst, args.batch, lam=1.0)
    envs = gym.make_vec("simulators/Scheduling-v0", num_envs=args.batch, vectorization_mode="vector_entry_point",
                        instance=inst, lam=1.0)
    energy = 0.5
    action = env.energies_to_action(np.full(env.buffer_size, energy))
    actions = np.tile(action, (args.batch, 1))
    table = [[energy] * (int(t) + 1) for t in inst.tau]
    env_episode(env, action, 0)  # JIT warm-up (cached on disk after the first run)
    batch_episodes(batch, actions, 0)
    vector_env_episodes(envs, actions, 0)
    load_before = load_average()
    times: dict[str, list[float]] = {"py": [], "env": [], "batch": [], "vec": []}
    reward = dict.fromkeys(times, 0.0)
    count = dict.fromkeys(times, 0)
    py_energy = 0.0
    for rep in range(args.repeats):
        base = args.seed * 10_000 + rep * 1000
        t0 = time.process_time()
        for ep in range(args.episodes):
            r, e = python_episode(inst, table, 1.0, base + ep)
            reward["py"] += r
            py_energy += e
        times["py"].append((time.process_time() - t0) / args.episodes)
        t0 = time.process_time()
        for ep in range(args.episodes):
            reward["env"] += env_episode(env, action, base + ep)
        times["env"].append((time.process_time() - t0) / args.episodes)
        t0 = time.process_time()
        reward["batch"] += batch_episodes(batch, actions, base)
        times["batch"].append((time.process_time() - t0) / args.batch)
        t0 = time.process_time()
        reward["vec"] += vector_env_episodes(envs, actions, base)
        times["vec"].append((time.process_time() - t0) / args.batch)
        count["py"] += args.episodes
        count["env"] += args.episodes
        count["batch"] += args.batch
        count["vec"] += args.batch
    load_after = load_average()
    e_env, e_batch, e_vec = energy_per_episode(env, batch, envs, action, actions,
                                               [args.seed * 10_000 + e for e in range(4)])
    energy_col = {"py": py_energy / count["py"], "env": e_env, "batch": e_batch, "vec": e_vec}
    names = {
        "py": "per-packet pure-Python loop",
        "env": "SchedulingEnv (gym API, 1 episode)",
        "batch": f"SchedulingBatch ({args.batch} episodes)",
        "vec": f"gymnasium VectorEnv (make_vec, {args.batch})",
    }
    print(f"scheduling system, {args.users} users, H = {inst.horizon}, energy {energy} per packet; "
          f"{args.episodes} episodes x {args.repeats} interleaved repeats, best repeat (process CPU time)")
    print(f"load average (1/5/15 min): {load_before} before, {load_after} after, on {os.cpu_count()} cores")
    print(f"{'implementation':<38}{'ms / episode':>13}{'speed-up':>10}{'median':>9}{'reward / ep':>13}"
          f"{'energy / ep':>13}")
    best_py = min(times["py"])
    ratios = {}
    for k, name in names.items():
        best = min(times[k])
        ratios[k] = best_py / best
        med = float(np.median(np.array(times["py"]) / np.array(times[k])))
        print(f"{name:<38}{best * 1e3:>13.3f}{ratios[k]:>9.1f}x{med:>8.1f}x{reward[k] / count[k]:>13.1f}"
              f"{energy_col[k]:>13.1f}")
    verdict = {k: "met" if ratios[k] >= 20 else "NOT met" for k in ("env", "batch", "vec")}
    print(f"goal >= 20x: gym-API env {ratios['env']:.1f}x ({verdict['env']}), lock-step batch "
          f"{ratios['batch']:.1f}x ({verdict['batch']}), gymnasium VectorEnv {ratios['vec']:.1f}x "
          f"({verdict['vec']}); batch / env {ratios['batch'] / ratios['env']:.1f}x, VectorEnv / batch "
          f"{ratios['vec'] / ratios['batch']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
