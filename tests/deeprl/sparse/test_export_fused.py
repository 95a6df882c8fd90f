"""The fused feature-major sparse MLP (``deeprl.sparse.kernels`` / ``deeprl.sparse.fused``) equals the masked
dense computation: kernel on random shapes and densities (empty rows, an all-zero layer, batch 1 and > 1,
serial and thread-parallel), the exported RLx2 TD3 actor, NaN propagation, and the export's selection."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch
from torch import nn

from deeprl.rlx2.networks import DeterministicActor
from deeprl.sparse import SparseGroup, SparseTrainer, export_sparse_inference
from deeprl.sparse import kernels as K
from deeprl.sparse.fused import FusedSparseMLP, NumbaCSRLinear, fusable_layers, set_num_threads

ACTS = {K.ACT_IDENTITY: nn.Identity(), K.ACT_RELU: nn.ReLU(), K.ACT_TANH: nn.Tanh(), K.ACT_SIGMOID: nn.Sigmoid(),
        K.ACT_LEAKY_RELU: nn.LeakyReLU(0.1)}


def close(y: torch.Tensor, ref: torch.Tensor) -> bool:
    """The export's criterion: max|y − y_ref| ≤ 1e-5·(1 + |y_ref|)."""
    return bool(((y - ref).abs() <= 1e-5 * (1 + ref.abs())).all())


def random_layer(rng: np.random.Generator, n_out: int, n_in: int, density: float, empty_rows: int = 0) -> nn.Linear:
    """A Linear with torch's default init, masked to ``density`` (uniform mask), ``empty_rows`` rows all zero."""
    lin = nn.Linear(n_in, n_out)
    mask = torch.from_numpy(rng.random((n_out, n_in)) < density)
    mask[rng.choice(n_out, size=empty_rows, replace=False)] = False
    with torch.no_grad():
        lin.weight.mul_(mask)
        lin.bias.copy_(torch.from_numpy(rng.standard_normal(n_out).astype(np.float32)))
    return lin


def run_kernel(layers: list[tuple[nn.Linear, int]], x: torch.Tensor, parallel: bool) -> tuple[np.ndarray, bool]:
    packed = K.pack_layers([(lin.weight.detach().numpy(), lin.bias.detach().numpy(), act, 0.1)
                            for lin, act in layers])
    work = np.empty(0, np.float32)  # too small: the kernel allocates its own
    return K.mlp_forward(x.numpy(), packed["meta"], packed["alphas"], packed["indptr"], packed["indices"],
                         packed["data"], packed["bias"], parallel, work)


def dense_ref(layers: list[tuple[nn.Linear, int]], x: torch.Tensor) -> torch.Tensor:
    h = x
    with torch.no_grad():
        for lin, act in layers:
            h = ACTS[act](lin(h))
    return h


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("batch", [1, 2, 7, 33, 256])
@pytest.mark.parametrize("parallel", [False, True])
def test_kernel_equals_masked_dense_matmul(seed, batch, parallel):
    """Random chains of 1-3 layers: widths 1-300, densities 0-1, some empty rows, every activation."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    widths = [int(w) for w in rng.integers(1, 300, size=int(rng.integers(2, 5)))]
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        density = float(rng.choice([0.0, 0.01, 0.05, 0.1, 0.5, 1.0]))
        lin = random_layer(rng, n_out, n_in, density, empty_rows=int(rng.integers(0, n_out // 2 + 1)))
        layers.append((lin, int(rng.integers(0, 5))))
    x = torch.randn(batch, widths[0])
    y, finite = run_kernel(layers, x, parallel)
    assert finite and y.shape == (batch, widths[-1]) and y.dtype == np.float32
    assert close(torch.from_numpy(y), dense_ref(layers, x))


@pytest.mark.parametrize("batch", [1, 5, 64])
def test_empty_rows_and_all_zero_layer_give_the_activated_bias(batch):
    rng = np.random.default_rng(0)
    zero = random_layer(rng, 40, 30, 0.0)  # every row empty: y = act(b)
    part = random_layer(rng, 20, 40, 0.3, empty_rows=10)
    layers = [(zero, K.ACT_TANH), (part, K.ACT_RELU)]
    x = torch.randn(batch, 30)
    y, finite = run_kernel(layers, x, parallel=batch > 1)
    assert finite
    h1 = torch.tanh(zero.bias.detach()).expand(batch, 40)
    assert close(torch.from_numpy(y), torch.relu(part(h1)).detach())
    empty = (part.weight == 0).all(1)
    assert torch.equal(torch.from_numpy(y)[:, empty], torch.relu(part.bias.detach()[empty]).expand(batch, -1))


def test_transposes_and_finiteness_check():
    rng = np.random.default_rng(1)
    for n, m in [(1, 1), (3, 17), (8, 8), (256, 256), (70, 130), (257, 9)]:
        x = rng.standard_normal((n, m)).astype(np.float32)
        for f in (K.transpose_into, K.transpose_into_parallel):
            xt = np.empty((m, n), np.float32)
            assert f(x, xt) != 0x7F800000 and np.array_equal(xt, x.T)
        for bad in (np.nan, np.inf, -np.inf):
            x2 = x.copy()
            x2[n - 1, m - 1] = bad
            assert K.transpose_into(x2, np.empty((m, n), np.float32)) == 0x7F800000
            assert K.transpose_into_parallel(x2, np.empty((m, n), np.float32)) == 0x7F800000
            assert not K.all_finite(x2)
        assert K.all_finite(x)


def td3_actor(sparsity: float, seed: int = 0) -> DeterministicActor:
    """The RLx2 TD3 actor (HalfCheetah sizes), ER-masked by the engine, a few Adam steps so biases are trained."""
    torch.manual_seed(seed)
    actor = DeterministicActor(17, 6, -np.ones(6), np.ones(6))
    opt = torch.optim.Adam(actor.parameters(), lr=1e-3)
    tr = SparseTrainer(SparseGroup("actor", actor, sparsity, distribution="er"), opt, seed=seed)
    for _ in range(5):
        opt.zero_grad()
        actor(torch.randn(32, 17)).pow(2).mean().backward()
        tr.step(samples=32)
    tr.remove_hooks()
    return actor.eval()


@pytest.mark.parametrize("sparsity", [0.9, 0.95])
def test_exported_td3_actor_equals_masked_dense_actor(sparsity):
    actor = td3_actor(sparsity)
    ex = export_sparse_inference(actor, min_sparsity=0.8, force="fused")
    assert isinstance(ex.net, FusedSparseMLP) and ex.net.activations == ["ReLU", "ReLU", "Identity"]
    assert ex.net.layer_nnz() == [int((actor.net[i].weight != 0).sum()) for i in (0, 2, 4)]
    row = ex.export_report[0]
    assert row["layer"] == "net" and row["format"] == "fused" and row["max_rel_err_fused"] <= 1e-5
    for batch in (1, 5, 16, 256):
        x = torch.randn(batch, 17)
        with torch.no_grad():
            ref = actor(x)
        assert close(ex(x), ref)
    x3 = torch.randn(2, 3, 17)  # leading dims, a non-contiguous input, an unbatched input
    assert close(ex(x3), actor(x3).detach())
    xt = torch.randn(17, 40).t()
    assert close(ex(xt), actor(xt).detach())
    assert close(ex(x3[0, 0]), actor(x3[0, 0]).detach()) and ex(x3[0, 0]).shape == (6,)


def test_thread_counts_stay_in_step():
    """Launching Numba's OpenMP pool must not change torch's thread count (it resets the process-wide one)."""
    old = torch.get_num_threads()
    try:
        for n in (1, 2, 1):
            set_num_threads(n)
            FusedSparseMLP.from_module(td3_actor(0.9).net)(torch.randn(64, 17))
            assert torch.get_num_threads() == n and numba.get_num_threads() == min(n, numba.config.NUMBA_NUM_THREADS)
    finally:
        set_num_threads(old)


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_path_equals_serial_path(threads):
    actor = td3_actor(0.95)
    fused = FusedSparseMLP.from_module(actor.net, parallel_min_batch=1)
    serial = FusedSparseMLP.from_module(actor.net, parallel_min_batch=10**9)
    old = torch.get_num_threads()
    try:
        set_num_threads(threads)
        for batch in (2, 64, 300):
            x = torch.randn(batch, 17)
            assert torch.allclose(fused(x), serial(x), atol=1e-6, rtol=0)
    finally:
        set_num_threads(old)


def test_nan_and_inf_inputs_propagate_like_dense():
    actor = td3_actor(0.9)
    ex = FusedSparseMLP.from_module(actor.net)
    for batch in (1, 32):
        x = torch.randn(batch, 17)
        x[0, 3] = float("nan")
        x[-1, 0] = float("-inf")
        with torch.no_grad():
            ref = actor.net(x)
        y = ex(x)
        assert torch.equal(y.isnan(), ref.isnan()) and y.isnan().any()
        assert torch.allclose(y.nan_to_num(), ref.nan_to_num(), atol=1e-5)


def test_fusable_layers_and_bad_inputs():
    seq = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 8, bias=False), nn.Sigmoid(),
                        nn.Linear(8, 3))
    chain = fusable_layers(seq)
    assert chain is not None and [a is None for _, a in chain] == [False, False, True]
    with torch.no_grad():
        seq[2].weight.mul_(torch.rand(8, 8) < 0.3)
    f = FusedSparseMLP.from_module(seq)
    x = torch.randn(9, 4)
    assert close(f(x), seq(x).detach())
    assert fusable_layers(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))) is None
    assert fusable_layers(nn.Sequential(nn.ReLU(), nn.Linear(4, 4))) is None  # activation on the input
    assert fusable_layers(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.ReLU())) is None
    assert fusable_layers(nn.Linear(4, 4).double()) is None
    with pytest.raises(ValueError, match="float32"):
        f(x.double())
    with pytest.raises(ValueError, match="4 features"):
        f(torch.randn(2, 5))
    with pytest.raises(ValueError, match="nn.Sequential"):
        FusedSparseMLP.from_module(nn.GRUCell(3, 3))
    bad = nn.Linear(3, 3)
    with torch.no_grad():
        bad.weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="finite"):
        NumbaCSRLinear.from_linear(bad)
    assert f(torch.randn(0, 4)).shape == (0, 3)


def test_unfusable_structure_falls_back_to_per_layer_export():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 64), nn.LayerNorm(64), nn.Linear(64, 5))
    SparseTrainer(SparseGroup("n", net, 0.9, distribution="uniform"),
                  torch.optim.SGD(net.parameters(), lr=0.0)).remove_hooks()
    ex = export_sparse_inference(net, min_sparsity=0.5, force=True, formats=("fused", "numba"))
    # the Sequential is not fusable (LayerNorm); each sparse Linear alone is a one-layer chain
    assert isinstance(ex[1], nn.LayerNorm) and all(isinstance(m, FusedSparseMLP) for m in (ex[0], ex[2]))
    assert [r["layer"] for r in ex.export_report] == ["0", "2"]
    ex2 = export_sparse_inference(net, min_sparsity=0.5, force="numba", formats=("fused", "numba"))
    assert isinstance(ex2[0], NumbaCSRLinear) and isinstance(ex2[2], NumbaCSRLinear)
    x = torch.randn(7, 12)
    assert close(ex(x), net(x).detach()) and close(ex2(x), net(x).detach())
