"""Lagrangian dual update of the energy multiplier lambda (RSD4 spec §2.7, eq. (17); rule ours).

Stochastic projected dual ascent on the *relative* violation, one step per training episode, with the
averaged iterate held fixed at the end (ergodic averaging of the dual iterate):

    (17a) lambda_{n+1} = clip(lambda_n + eta (E_hat_n - E_b) / E_b, 0, lambda_max),  eta = lr_frac lambda_max
    (17b) lambda_bar   = (1 / (n - m + 1)) sum_{k=m}^{n} lambda_k,  m = floor(avg_start n)   (at the freeze)

E_hat_n is the mean energy per slot of the last ``window`` training episodes (default 1: that episode),
and one step of (17a) is taken every ``every`` episodes after the random phase. When training reaches
its final ``freeze_frac`` (see :class:`deeprl.rsd4.train.Trainer`), :meth:`DualAscent.freeze` sets lambda
to lambda_bar of (17b) over the last ``1 - avg_start`` of the iterates lambda_0..lambda_n, and lambda stays there
for the rest of training and at evaluation (the policy is trained and evaluated at the same lambda,
which enters its input g(t), spec eq. (9)).

Why (our choice, departing from the spec's eta = 0.05 lambda_max every 10 episodes from lambda_0 = 1):

* g(lambda) = max_pi TP(pi) - lambda (E(pi) - E_b) is convex, so (17a) is projected subgradient descent
  on g with subgradient E_b - E(pi_lambda); dividing by E_b makes eta free of the energy scale, and
  eta = lr_frac lambda_max makes it free of the reward scale (lambda* lies in [0, lambda_max], spec §1.6).
* The spec's rule takes one step per 10 episodes; from lambda_0 = 1 (clipped to lambda_max) it needs
  ~100 episodes only to come down to lambda* on the 'bench' instance, so a 300-episode run froze lambda
  before it converged and the policy violated the budget (issue #8). One step per episode with
  lr_frac = 0.02 crosses [0, lambda_max] in ~50-100 episodes at the typical |violation| of 0.5-1 while
  staying slower than the primal (critic/actor) response of ~10-30 episodes.
* The last iterate of a primal-dual method oscillates around lambda* when the primal lags; the
  averaged iterate (17b) converges where the last iterate does not (Nemirovski et al. 2009, SIAM J.
  Optim. 19(4), saddle-point mirror descent), and the average over the second half discards the
  transient from lambda_0.
* lambda_0 defaults to lambda_max / 2, the centre of the interval that contains lambda* (the minimax
  start without knowledge of lambda*). Starting at the model-based lambda* is an oracle and is only the
  benchmark's named variant ``rsd4-oracle`` (``mode='fixed'``).

Alternative rule ``mode='calibrate'`` (ours, a departure from the spec's primal-dual update; issue #8):
lambda-conditioned training and calibration of lambda by bisection. The policy and the critics already
take lambda as an input (g(t) of eq. (9)) and the reward r = beta S - lambda E of eq. (8) is linear in a
lambda that does not touch the dynamics, so one network can learn the whole family of best responses
pi_lambda instead of chasing a moving lambda:

* every training episode is collected at a behaviour lambda ~ U[0, lambda_max] (:meth:`DualAscent.sample`);
* every replayed sequence is relabelled with its own lambda_j ~ U[0, lambda_max]: its g(t)[0] becomes
  lambda_j / lambda_max and its rewards beta S - lambda_j E (off-policy relabelling, exact because lambda
  enters only the reward);
* at every evaluation in the selection window (the last 20% of training, spec §2.7) and before the final
  evaluation, lambda is set by :meth:`DualAscent.calibrate` (earlier evaluations, only logged, reuse the
  last calibrated lambda, lambda_max / 2 at first): the bisection of
  :func:`simulators.scheduling.optimal.solve_dual` (the same search that finds the optimum's lambda*) on the
  mean energy per slot of greedy validation episodes with common seeds, keeping the feasible end of the
  final bracket (the smallest lambda found whose energy is <= E_b; a deterministic policy, so no mixing).

Throttle fallback (``calibrate_throttle``, ours): a learned policy that does not follow lambda can overspend
even at lambda_max (README: TD3 and RTD3 seeds at 1.9 and 2.9 E_b), and the bisection then reports a
violated budget. With the fallback, :meth:`DualAscent.calibrate` goes on to a second bisection, on an
energy scale c in [0, 1] of the greedy policy at lambda_max (every per-packet energy e becomes c e, i.e.
the action a becomes c (a + 1) - 1), for the largest c whose validation energy is <= E_b; c = 0 (idling)
is always feasible, so the calibrated policy meets the budget on the validation episodes. It acts only
where lambda_max is infeasible, so runs whose lambda search succeeds are unchanged; no mixing with it
(E(c) has no jumps to bridge: the bisection's tolerance puts E(c) close to E_b).

The interval is [0, lambda_max] of this object: the trainer passes ``calibrate_range x lambda_max``
(config ``calibrate_range``, default 1), so a range above 1 lets the network see multipliers above the
model's lambda_max. Measured (README, TD3, seeds 13-18): range 1 keeps 2/6 seeds in budget (the others
overspend even at lambda_max), range 2 keeps 6/6 but at lower throughput; the grid search of
:meth:`DualAscent.calibrate_grid` (``calibrate_search='grid'``) did worse than bisection there.

Why: with dual ascent, a policy that responds within ~10-30 episodes turns every step of lambda into a
swing between idling and ~2.3 E_b (benchmarks/rsd4_sweep.py, README), so the last and the averaged
iterates both miss the budget. Calibration needs no step size and no primal/dual time-scale separation;
its cost is that the network must represent pi_lambda for all lambda, and that E(lambda) of a learned
policy is only approximately non-increasing (the bisection then returns a feasible lambda, not
necessarily the smallest one).

Training energy includes the exploration noise of the behaviour policy (biased upward: actions are
clipped at zero energy), so the deterministic evaluation policy spends at most about E_b; the benchmark
reports the evaluated energy per slot against E_b for every run either way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from simulators.scheduling.optimal import ConstrainedSolution, solve_dual

MIX_STREAM = 0x6D6978  # SeedSequence stream of the per-episode mixing draws ("mix")


class DualAscent:
    """Projected dual ascent on lambda (eq. (17a)) with iterate averaging at the freeze (eq. (17b)).

    ``mode='fixed'`` keeps lambda = lambda_0 unclipped (the code's fixed lambda, or an oracle lambda*).
    ``mode='calibrate'`` never steps (17a): lambda is sampled for training (:meth:`sample`) and set by
    bisection at evaluation (:meth:`calibrate`).
    ``lam0=None`` starts ascent and calibration at lambda_max / 2 and a fixed run at 1.0 (the code's default).
    """

    def __init__(self, budget: float, lam_max: float, lam0: float | None = None, lr_frac: float = 0.02,
                 every: int = 1, window: int = 1, mode: str = "ascent", avg_start: float = 0.5) -> None:
        if not (budget > 0 and np.isfinite(budget)):
            raise ValueError(f"budget must be positive for the dual update, got {budget}")
        if not (lam_max > 0 and np.isfinite(lam_max)):
            raise ValueError(f"lam_max must be positive and finite, got {lam_max}")
        if mode not in ("ascent", "fixed", "calibrate"):
            raise ValueError(f"dual mode must be 'ascent', 'fixed' or 'calibrate', got {mode!r}")
        if not 0.0 <= avg_start < 1.0:
            raise ValueError(f"avg_start must be in [0, 1), got {avg_start}")
        if lr_frac < 0:
            raise ValueError(f"lr_frac must be non-negative, got {lr_frac}")
        if int(every) < 1 or int(window) < 1:
            raise ValueError(f"every and window must be positive integers, got {every}, {window}")
        self.budget, self.lam_max, self.mode = float(budget), float(lam_max), mode
        if lam0 is None:
            lam0 = 1.0 if mode == "fixed" else 0.5 * lam_max
        self.lam = float(lam0) if mode == "fixed" else self.project(lam0)
        self.eta = lr_frac * lam_max
        self.every, self.window, self.avg_start = int(every), int(window), float(avg_start)
        self.energies: deque[float] = deque(maxlen=self.window)
        self.episodes_seen = 0
        self.iterates: list[float] = []  # lambda_k at each update of (17a), for (17b)
        self.mix: tuple[float, float] | None = None  # calibrate with mixing: (lambda^-, its probability q)
        self.scale = 1.0  # energy scale c of the greedy policy (calibrate's throttle fallback; 1 = untouched)
        self.frozen = False

    def project(self, lam: float) -> float:
        """Euclidean projection onto [0, lambda_max]."""
        return float(np.clip(lam, 0.0, self.lam_max))

    def step(self, e_hat: float) -> float:
        """One step of eq. (17a) from the current lambda with energy estimate ``e_hat``; returns lambda."""
        self.iterates.append(self.lam)
        self.lam = self.project(self.lam + self.eta * (e_hat - self.budget) / self.budget)
        return self.lam

    def observe(self, energy_per_slot: float, active: bool) -> bool:
        """Record one episode's energy per slot; apply eq. (17a) every ``every`` active episodes.

        Returns whether lambda was updated. Inactive (random phase) and frozen episodes never update.
        """
        self.energies.append(float(energy_per_slot))
        if not active or self.mode != "ascent" or self.frozen:
            return False
        self.episodes_seen += 1
        if self.episodes_seen % self.every:
            return False
        self.step(float(np.mean(self.energies)))
        return True

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        """Training lambdas of ``mode='calibrate'``: uniform on [0, lambda_max] (one, or ``size`` of them)."""
        return rng.uniform(0.0, self.lam_max, size=size)

    def training_lambda(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        """lambda for a training episode (``size=None``) or for each of ``size`` replayed sequences:
        drawn by :meth:`sample` in ``mode='calibrate'``, the current lambda otherwise (no draw)."""
        if self.mode == "calibrate":
            return self.sample(rng, size)
        return self.lam if size is None else np.full(size, self.lam)

    def calibrate(self, energy_at: Callable[[float], float], rel_tol: float = 1.0 / 128, mix: bool = False,
                  throttle: Callable[[float, float], float] | None = None) -> dict:
        """Set lambda to the feasible end of the bisection of ``solve_dual`` on ``energy_at(lambda)``.

        With ``mix`` (config ``calibrate_mix``), also keep the infeasible end lambda^- of the final bracket
        and its Beutler-Ross weight q = (E_b - E^+)/(E^- - E^+) (spec §3.2's mixing of the optimum):
        :meth:`episode_lambda` then plays lambda^- in a fraction q of the episodes, so the mean energy on
        the validation episodes is E_b rather than E^+ (our choice for the learned policy; time sharing
        across episodes meets the long-run average budget in expectation).

        ``energy_at`` is the mean energy per slot of the greedy policy at lambda on fixed validation
        episodes. Stops when the bracket is below ``rel_tol * lambda_max`` (~log2(1/rel_tol) + 2 calls).
        lambda = 0 if the policy at lambda = 0 is within the budget; lambda_max if even lambda_max is not
        (the caller then reports a violated budget), unless ``throttle`` is given: ``throttle(lambda, c)`` is the
        validation energy of the greedy policy at lambda with its energies scaled by c, and the scale is then
        set by :meth:`throttle` (see the module docstring). Returns lambda, its energy, the number of calls
        (both searches), feasibility, the mixing and the energy scale.
        """
        self.scale = 1.0
        sol, calls = self._bisect(energy_at, self.lam_max, rel_tol)
        self.lam = float(sol.hi.lam)
        feasible = bool(sol.hi.energy_rate <= self.budget)
        self.mix = (float(sol.lo.lam), float(sol.mix)) if mix and feasible and sol.mix > 0 else None
        out = {"lam": self.lam, "energy": sol.hi.energy_rate, "calls": calls, "feasible": feasible,
               "mix": self.mix, "mixed_energy": float(sol.energy) if self.mix else sol.hi.energy_rate,
               "scale": 1.0}
        if throttle is not None and not feasible:
            lam = self.lam
            th = self.throttle(lambda c: throttle(lam, c), rel_tol)
            out.update(energy=th["energy"], mixed_energy=th["energy"], feasible=th["feasible"], scale=self.scale,
                       calls=out["calls"] + th["calls"])
        return out

    def throttle(self, energy_at_scale: Callable[[float], float], rel_tol: float = 1.0 / 128) -> dict:
        """Set the energy scale c to the largest c in [0, 1] with ``energy_at_scale(c)`` <= E_b (bisection).

        ``solve_dual``'s bisection on u = 1 - c (energy non-increasing in u, as in lambda), keeping the
        feasible end of the final bracket, within ``rel_tol`` of the crossing; c = 1 if already feasible.
        """
        sol, calls = self._bisect(lambda u: energy_at_scale(1.0 - u), 1.0, rel_tol)
        self.scale = 1.0 - float(sol.hi.lam)
        self.mix = None
        return {"scale": self.scale, "energy": sol.hi.energy_rate, "calls": calls,
                "feasible": bool(sol.hi.energy_rate <= self.budget)}

    def _bisect(self, energy_of: Callable[[float], float], upper: float,
                rel_tol: float) -> tuple[ConstrainedSolution, int]:
        """``solve_dual``'s bisection on x in [0, upper] for ``energy_of(x)`` (non-increasing) against E_b;
        returns its solution (``hi``: the feasible end, ``lo``/``mix``: the infeasible end and its weight) and
        the number of ``energy_of`` calls."""
        calls = 0

        def at(x: float) -> SimpleNamespace:
            nonlocal calls
            calls += 1
            return SimpleNamespace(lam=x, energy_rate=float(energy_of(x)), throughput=0.0)

        return solve_dual(at, self.budget, upper, rel_tol=rel_tol), calls

    def episode_lambda(self, seed: int) -> float:
        """The lambda of the greedy episode with seed ``seed``: lambda, or with mixing lambda^- when a
        uniform drawn from the seed alone is below q (the same draw for the same seed: common random
        numbers across evaluations)."""
        if self.mix is None:
            return self.lam
        lam_lo, q = self.mix
        u = np.random.default_rng(np.random.SeedSequence([MIX_STREAM, int(seed)])).random()
        return lam_lo if u < q else self.lam

    def calibrate_grid(self, measure: Callable[[float], tuple[float, float]], points: int = 17) -> dict:
        """Set lambda to the best feasible point of a grid (``calibrate_search='grid'``, ours).

        ``measure(lambda)`` gives (energy per slot, throughput) of the greedy policy on the validation
        episodes; lambda runs over ``points`` equally spaced values of [0, lambda_max]. Keeps the feasible
        (energy <= E_b) point of largest throughput, robust to a learned E(lambda) that is not monotone,
        where bisection stops at the first feasible end (e.g. lambda = 0 with a policy that idles there).
        If no point is feasible, the one of least energy (reported as infeasible).
        """
        if int(points) < 2:
            raise ValueError(f"points must be at least 2, got {points}")
        grid = np.linspace(0.0, self.lam_max, int(points))
        res = [tuple(map(float, measure(float(lam)))) for lam in grid]
        feasible = [i for i, (e, _) in enumerate(res) if e <= self.budget]
        best = max(feasible, key=lambda i: res[i][1]) if feasible else min(range(len(res)), key=lambda i: res[i][0])
        self.lam = float(grid[best])
        self.mix = None
        self.scale = 1.0
        return {"lam": self.lam, "energy": res[best][0], "calls": len(res), "feasible": bool(feasible)}

    def averaged(self) -> float:
        """lambda_bar of eq. (17b): mean of the iterates after the first ``avg_start`` fraction (and the
        current one); the current lambda if no update happened yet."""
        its = [*self.iterates, self.lam]
        return float(np.mean(its[int(np.floor(self.avg_start * (len(its) - 1))):]))

    def freeze(self) -> float:
        """Hold lambda at lambda_bar (eq. (17b)) for the rest of training and evaluation; idempotent."""
        if self.mode == "ascent" and not self.frozen:
            self.lam = self.project(self.averaged())
        self.frozen = True
        return self.lam

    def state_dict(self) -> dict:
        return {"lam": self.lam, "energies": list(self.energies), "episodes_seen": self.episodes_seen,
                "iterates": list(self.iterates), "frozen": self.frozen,
                "mix": None if self.mix is None else list(self.mix), "scale": self.scale}

    def load_state_dict(self, s: dict) -> None:
        self.lam = float(s["lam"])
        self.energies = deque(s["energies"], maxlen=self.window)
        self.episodes_seen = int(s["episodes_seen"])
        self.iterates = [float(x) for x in s.get("iterates", [])]
        self.frozen = bool(s.get("frozen", False))
        self.mix = None if s.get("mix") is None else (float(s["mix"][0]), float(s["mix"][1]))
        self.scale = float(s.get("scale", 1.0))
