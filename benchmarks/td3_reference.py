"""An independent, single-file TD3 (Fujimoto et al. 2018; CleanRL's ``td3_continuous_action.py`` layout) to
cross-check ``python -m deeprl rlx2 --dense`` on the same budget.

Nothing here imports ``deeprl``: replay, networks, update and evaluation are written out again on purpose,
so that a dense TD3 score from our engine can be compared with a score from code that shares none of it.
Same hyper-parameters as the dense RLx2 baseline (256-256 ReLU MLPs, Adam 3e-4, batch 256, gamma 0.99,
tau 0.005, policy delay 2, target noise 0.2 clipped at 0.5, exploration noise 0.1, uniform random warm-up),
the same evaluation protocol (deterministic policy, ``--eval-episodes`` episodes every ``--eval-interval``
steps). Writes ``evaluations.csv`` and ``summary.json`` to a new folder.

    OMP_NUM_THREADS=1 python benchmarks/td3_reference.py --env Hopper-v5 --steps 100000 --warmup 10000 --seed 0
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cli_util import CliParser, cli_main, new_run_dir, nonneg_int, positive_int, write_json  # noqa: E402


def mlp(n_in: int, n_out: int, hidden: int = 256) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


@cli_main("td3_reference")
def main(argv: list[str] | None = None) -> int:
    ap = CliParser(prog="td3_reference", description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="Hopper-v5")
    ap.add_argument("--steps", type=positive_int, default=100_000)
    ap.add_argument("--warmup", type=positive_int, default=10_000)
    ap.add_argument("--seed", type=nonneg_int, default=0)
    ap.add_argument("--eval-interval", type=positive_int, default=5_000)
    ap.add_argument("--eval-episodes", type=positive_int, default=10)
    ap.add_argument("--out", default="runs/td3_reference")
    a = ap.parse_args(argv)
    if a.warmup >= a.steps:
        raise ValueError(f"--warmup must be below --steps ({a.steps})")
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    env, eval_env = gym.make(a.env), gym.make(a.env)
    n_obs, n_act = env.observation_space.shape[0], env.action_space.shape[0]
    low, high = env.action_space.low, env.action_space.high
    scale, bias = torch.tensor((high - low) / 2, dtype=torch.float32), torch.tensor((high + low) / 2,
                                                                                    dtype=torch.float32)
    actor, q1, q2 = mlp(n_obs, n_act), mlp(n_obs + n_act, 1), mlp(n_obs + n_act, 1)
    actor_t, q1_t, q2_t = mlp(n_obs, n_act), mlp(n_obs + n_act, 1), mlp(n_obs + n_act, 1)
    for net, tgt in ((actor, actor_t), (q1, q1_t), (q2, q2_t)):
        tgt.load_state_dict(net.state_dict())
    pi = lambda net, s: bias + scale * torch.tanh(net(s))  # noqa: E731
    a_opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
    q_opt = torch.optim.Adam([*q1.parameters(), *q2.parameters()], lr=3e-4)
    N = a.steps
    S, A = np.zeros((N, n_obs), np.float32), np.zeros((N, n_act), np.float32)
    R, S2, D = np.zeros(N, np.float32), np.zeros((N, n_obs), np.float32), np.zeros(N, np.float32)
    out = new_run_dir(a.out, f"{a.env}-s{a.seed}")
    evals: list[tuple[int, float]] = []
    obs, _ = env.reset(seed=a.seed)
    t0 = time.perf_counter()
    for t in range(N):
        if t < a.warmup:
            act = rng.uniform(low, high).astype(np.float32)
        else:
            with torch.no_grad():
                mu = pi(actor, torch.as_tensor(obs, dtype=torch.float32)).numpy()
            act = np.clip(mu + rng.normal(0, 0.1 * scale.numpy()), low, high).astype(np.float32)
        nxt, r, term, trunc, _ = env.step(act)
        S[t], A[t], R[t], S2[t], D[t] = obs, act, r, nxt, float(term)  # truncation bootstraps
        obs = nxt
        if term or trunc:
            obs, _ = env.reset()
        if t + 1 > a.warmup:
            i = rng.integers(0, t + 1, size=256)
            s, ac, r_, s2, d = (torch.as_tensor(x[i]) for x in (S, A, R, S2, D))
            with torch.no_grad():
                noise = (torch.randn_like(ac) * 0.2 * scale).clamp(-0.5 * scale, 0.5 * scale)
                a2 = torch.max(torch.min(pi(actor_t, s2) + noise, bias + scale), bias - scale)
                x2 = torch.cat([s2, a2], -1)
                y = r_ + 0.99 * (1 - d) * torch.min(q1_t(x2), q2_t(x2)).squeeze(-1)
            x = torch.cat([s, ac], -1)
            q_loss = ((q1(x).squeeze(-1) - y) ** 2).mean() + ((q2(x).squeeze(-1) - y) ** 2).mean()
            q_opt.zero_grad()
            q_loss.backward()
            q_opt.step()
            if (t + 1) % 2 == 0:
                a_loss = -q1(torch.cat([s, pi(actor, s)], -1)).mean()
                a_opt.zero_grad()
                a_loss.backward()
                a_opt.step()
                with torch.no_grad():
                    for net, tgt in ((actor, actor_t), (q1, q1_t), (q2, q2_t)):
                        for p, pt in zip(net.parameters(), tgt.parameters()):
                            pt.lerp_(p, 0.005)
        if (t + 1) % a.eval_interval == 0:
            rets = []
            for j in range(a.eval_episodes):
                o, _ = eval_env.reset(seed=10_000 + j)
                done, ret = False, 0.0
                while not done:
                    with torch.no_grad():
                        o, r, te, tr, _ = eval_env.step(pi(actor, torch.as_tensor(o, dtype=torch.float32)).numpy())
                    ret += float(r)
                    done = te or tr
                rets.append(ret)
            evals.append((t + 1, float(np.mean(rets))))
            print(f"step {t + 1}: eval return {evals[-1][1]:.1f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    (out / "evaluations.csv").write_text("step,return\n" + "".join(f"{s},{r}\n" for s, r in evals))
    write_json(out / "summary.json", {"env": a.env, "seed": a.seed, "steps": N, "warmup": a.warmup,
                                      "evaluations": evals, "score_last4": float(np.mean([r for _, r in evals[-4:]])),
                                      "seconds": time.perf_counter() - t0})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
