"""Numba kernels of the fused feature-major sparse MLP (sparse spec §1.9: "torch CSR or other compressed format").

A sparse layer ``y = act(W x + b)`` stores ``W`` (``n_out × n_in``) in CSR (rows = outputs: ``indptr``,
``indices``, ``data``). Activations are kept **feature-major**, ``Xᵀ`` of shape ``(features, batch)``,
through a whole MLP, so the layer is

    Yᵀ[i, :] = act( b_i + Σ_{p ∈ row i} data[p] · Xᵀ[indices[p], :] )

i.e. for every nonzero ``w_ij`` one contiguous AXPY over the batch (SIMD-vectorised by LLVM; the nonzeros
of a row are taken four at a time so ``Yᵀ[i, :]`` is loaded and stored once per four). Bias and activation
are fused into the row. At batch 1 the row is the dot product ``b_i + Σ_p data[p]·x[indices[p]]`` (SpMV,
four partial sums).
Work per layer is ``nnz · B`` multiply-adds instead of dense ``n_in · n_out · B``.

:func:`mlp_forward` runs all layers of an MLP in one call: one transpose ``X → Xᵀ`` at the input and one
``Yᵀ → Y`` at the output (8×8 blocked), none between layers. With ``parallel=True`` each layer's rows are
split over Numba's threads (``prange``; set their number with ``numba.set_num_threads``); otherwise serial,
which avoids the thread-pool launch at small batches. Inference only: plain NumPy float32 in and out.

Activation codes (``ACT_*``): identity, ReLU, tanh, sigmoid ``1/(1+e^{−y})``, LeakyReLU ``max(y, 0) + α·min(y, 0)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

ACT_IDENTITY, ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_LEAKY_RELU = 0, 1, 2, 3, 4

# columns of the per-layer ``meta`` table of :func:`mlp_forward`
META_IN, META_OUT, META_PTR, META_NZ, META_BIAS, META_ACT = 0, 1, 2, 3, 4, 5
META_COLS = 6

# LLVM fast-math flags: reassociation (vectorised dot products) and FMA contraction, but not "afn"
# (approximate tanh/exp: off by ~1e-5) nor "nnan"/"ninf" (NaN and inf propagate as in the dense layer)
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True)
def transpose_into(x, xt):  # pragma: no cover - compiled
    """``xt = xᵀ`` for a C-contiguous 2-D ``x`` (n, m) into ``xt`` (m, n), in 8×8 blocks; returns the largest
    masked exponent field ``bits & 0x7F800000`` seen (== 0x7F800000 iff ``x`` holds a NaN or ±inf).

    Works on the int32 bit patterns, so it is exact for any 4-byte dtype and the finiteness check is free.
    """
    n, m = x.shape
    xb = x.view(np.int32)
    xtb = xt.view(np.int32)
    mask = np.int32(0x7F800000)
    e_max = np.int32(0)
    n8 = n - n % 8
    m8 = m - m % 8
    for k0 in range(0, n8, 8):
        for j0 in range(0, m8, 8):
            for j in range(j0, j0 + 8):
                for k in range(k0, k0 + 8):
                    v = xb[k, j]
                    xtb[j, k] = v
                    e_max = max(e_max, v & mask)
        for j in range(m8, m):
            for k in range(k0, k0 + 8):
                v = xb[k, j]
                xtb[j, k] = v
                e_max = max(e_max, v & mask)
    for k in range(n8, n):
        for j in range(m):
            v = xb[k, j]
            xtb[j, k] = v
            e_max = max(e_max, v & mask)
    return e_max


@njit(cache=True, parallel=True)
def transpose_into_parallel(x, xt):  # pragma: no cover - compiled
    """:func:`transpose_into` with blocks of 8 output rows split over Numba's threads."""
    n, m = x.shape
    xb = x.view(np.int32)
    xtb = xt.view(np.int32)
    mask = np.int32(0x7F800000)
    n8 = n - n % 8
    n_blocks = (m + 7) // 8
    e_blocks = np.zeros(n_blocks, np.int32)
    for jb in prange(n_blocks):
        j0 = jb * 8
        j1 = min(j0 + 8, m)
        e_max = np.int32(0)
        for k0 in range(0, n8, 8):
            for j in range(j0, j1):
                for k in range(k0, k0 + 8):
                    v = xb[k, j]
                    xtb[j, k] = v
                    e_max = max(e_max, v & mask)
        for j in range(j0, j1):
            for k in range(n8, n):
                v = xb[k, j]
                xtb[j, k] = v
                e_max = max(e_max, v & mask)
        e_blocks[jb] = e_max
    return e_blocks.max()


@njit(cache=True)
def _transpose(x, xt, parallel):  # pragma: no cover - compiled
    """:func:`transpose_into`, split over threads if ``parallel`` and the array is large enough to pay off."""
    if parallel and x.shape[0] >= 64 and x.shape[1] >= 64:
        return transpose_into_parallel(x, xt)
    return transpose_into(x, xt)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _activate(y, act, alpha):  # pragma: no cover - compiled
    """``y[:] = act(y)`` in place, in float32 (codes ``ACT_*``); one loop per code so each vectorises."""
    zero = y.dtype.type(0)
    one = y.dtype.type(1)
    if act == ACT_RELU:  # fmax vectorises (a select does not); NaN is excluded upstream (all_finite)
        for k in range(y.shape[0]):
            y[k] = np.fmax(y[k], zero)
    elif act == ACT_TANH:
        for k in range(y.shape[0]):
            y[k] = math.tanh(y[k])
    elif act == ACT_SIGMOID:
        for k in range(y.shape[0]):
            y[k] = one / (one + math.exp(-y[k]))
    elif act == ACT_LEAKY_RELU:  # max(y, 0) + α·min(y, 0), exact for finite y
        for k in range(y.shape[0]):
            v = y[k]
            y[k] = np.fmax(v, zero) + alpha * np.fmin(v, zero)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _csr_row(indptr, indices, data, b, xt, y, act, alpha):  # pragma: no cover - compiled
    """One output row, batch > 1: ``y[:] = act(b + Σ_{p=indptr[0]}^{indptr[1]-1} data[p] · xt[indices[p], :])``."""
    nb = y.shape[0]
    p = indptr[0]
    end = indptr[1]
    for k in range(nb):
        y[k] = b
    while p + 4 <= end:  # four AXPYs fused: one load/store of y per four nonzeros
        v0 = data[p]
        v1 = data[p + 1]
        v2 = data[p + 2]
        v3 = data[p + 3]
        x0 = xt[indices[p]]
        x1 = xt[indices[p + 1]]
        x2 = xt[indices[p + 2]]
        x3 = xt[indices[p + 3]]
        for k in range(nb):
            y[k] += (v0 * x0[k] + v1 * x1[k]) + (v2 * x2[k] + v3 * x3[k])
        p += 4
    while p < end:
        v0 = data[p]
        x0 = xt[indices[p]]
        for k in range(nb):
            y[k] += v0 * x0[k]
        p += 1
    _activate(y, act, alpha)


@njit(cache=True, fastmath=FASTMATH)
def _spmv_layer(indptr, indices, data, bias, x, y, act, alpha):  # pragma: no cover - compiled
    """Batch 1: ``y = act(W x + b)``, ``y_i = b_i + Σ_{p ∈ row i} data[p] · x[indices[p]]`` (CSR SpMV)."""
    for i in range(y.shape[0]):
        s0 = bias[i]
        s1 = s0 * 0
        s2 = s0 * 0
        s3 = s0 * 0
        p = indptr[i]
        end = indptr[i + 1]
        while p + 4 <= end:
            s0 += data[p] * x[indices[p]]
            s1 += data[p + 1] * x[indices[p + 1]]
            s2 += data[p + 2] * x[indices[p + 2]]
            s3 += data[p + 3] * x[indices[p + 3]]
            p += 4
        while p < end:
            s0 += data[p] * x[indices[p]]
            p += 1
        y[i] = (s0 + s1) + (s2 + s3)
    _activate(y, act, alpha)


@njit(cache=True, fastmath=FASTMATH, parallel=True)
def _layer_parallel(indptr, indices, data, bias, xt, yt, act, alpha):  # pragma: no cover - compiled
    """``Yᵀ = act(W Xᵀ + b)``, output rows split over Numba's threads."""
    for i in prange(yt.shape[0]):
        _csr_row(indptr[i:i + 2], indices, data, bias[i], xt, yt[i], act, alpha)


@njit(cache=True, fastmath=FASTMATH)
def _layer_serial(indptr, indices, data, bias, xt, yt, act, alpha):  # pragma: no cover - compiled
    """``Yᵀ = act(W Xᵀ + b)`` on the calling thread."""
    for i in range(yt.shape[0]):
        _csr_row(indptr[i:i + 2], indices, data, bias[i], xt, yt[i], act, alpha)


@njit(cache=True)
def work_size(width, nb):  # pragma: no cover - compiled
    """float32 entries of the work area :func:`mlp_forward` needs for layers at most ``width`` wide, batch ``nb``."""
    return 2 * (((width * nb + 15) // 16) * 16) + 64


@njit(cache=True)
def all_finite(x):  # pragma: no cover - compiled
    """True iff no entry of the float32 array ``x`` is NaN or ±inf (exponent bits all ones), vectorised."""
    bits = x.reshape(-1).view(np.int32)
    e_max = np.int32(0)
    for k in range(bits.shape[0]):
        e_max = max(e_max, bits[k] & np.int32(0x7F800000))
    return e_max != np.int32(0x7F800000)


@njit(cache=True, fastmath=FASTMATH)
def mlp_forward(x, meta, alphas, indptr, indices, data, bias, parallel, work):  # pragma: no cover - compiled
    """``Y = f_L(…f_1(X))`` with ``f_l(h) = act_l(W_l h + b_l)``: ``x`` (B, n_in) → (B, n_out) float32.

    Layer ``l`` is row ``l`` of ``meta`` (``n_in, n_out``, offsets of its ``indptr`` / nonzeros / bias in the
    concatenated arrays, activation code) and ``alphas[l]`` (LeakyReLU slope). ``work``: a float32 scratch
    array reused across calls (at least :func:`work_size` entries, else one is allocated), so that the
    large intermediate buffers are not freshly mapped, page-faulted memory on every call. ``indptr``
    entries are local to the layer (start at 0); ``indices`` are input-feature indices of the layer.
    Returns ``(y, True)``; or ``(empty, False)`` without computing if ``x`` holds a NaN or ±inf (the caller
    then takes the dense path, so NaN propagates exactly as in torch).
    """
    nb = x.shape[0]
    n_layers = meta.shape[0]
    width = 0
    for l in range(n_layers):
        width = max(width, meta[l, META_IN], meta[l, META_OUT])
    # one work area: both ping-pong buffers 64-byte aligned (whole-vector loads), the second shifted by
    # 128 bytes more so rows of Xᵀ and Yᵀ do not share 4 KiB offsets (store/load false aliasing)
    size = width * nb
    if work.shape[0] < work_size(width, nb):
        work = np.empty(work_size(width, nb), np.float32)
    o = ((64 - work.ctypes.data % 64) % 64) // 4
    buf_a = work[o: o + size]
    o_b = o + ((size + 15) // 16) * 16 + 32
    buf_b = work[o_b: o_b + size]
    h = buf_a[: meta[0, META_IN] * nb].reshape(meta[0, META_IN], nb)
    if nb == 1:
        if not all_finite(x):
            return np.empty((0, 0), np.float32), False
        h[:, 0] = x[0]
    elif _transpose(x, h, parallel) == np.int32(0x7F800000):
        return np.empty((0, 0), np.float32), False
    for l in range(n_layers):
        n_out = meta[l, META_OUT]
        out_buf = buf_b if l % 2 == 0 else buf_a
        yt = out_buf[: n_out * nb].reshape(n_out, nb)
        ptr = indptr[meta[l, META_PTR]: meta[l, META_PTR] + n_out + 1]
        nz0 = meta[l, META_NZ]
        nz1 = nz0 + ptr[n_out]
        b = bias[meta[l, META_BIAS]: meta[l, META_BIAS] + n_out]
        if nb == 1:
            _spmv_layer(ptr, indices[nz0:nz1], data[nz0:nz1], b, h.reshape(h.shape[0]), yt.reshape(n_out),
                        meta[l, META_ACT], alphas[l])
        elif parallel:
            _layer_parallel(ptr, indices[nz0:nz1], data[nz0:nz1], b, h, yt, meta[l, META_ACT], alphas[l])
        else:
            _layer_serial(ptr, indices[nz0:nz1], data[nz0:nz1], b, h, yt, meta[l, META_ACT], alphas[l])
        h = yt
    y = np.empty((nb, h.shape[0]), np.float32)
    if nb == 1:
        y[0] = h[:, 0]
    else:
        _transpose(h, y, parallel)
    return y, True


def dense_to_csr(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of a 2-D array's nonzeros, rows = outputs: ``(indptr int64, indices int32, data float32)``."""
    rows, cols = np.nonzero(w)
    counts = np.bincount(rows, minlength=w.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return indptr, cols.astype(np.int32), np.ascontiguousarray(w[rows, cols], dtype=np.float32)


def pack_layers(layers: list[tuple[np.ndarray, np.ndarray | None, int, float]]) -> dict[str, np.ndarray]:
    """Concatenate ``(W, b, act_code, alpha)`` layers (``W`` dense ``n_out × n_in``) into the arrays of
    :func:`mlp_forward`: ``meta, alphas, indptr, indices, data, bias``. Widths must chain."""
    if not layers:
        raise ValueError("layers must hold at least one layer")
    meta = np.zeros((len(layers), META_COLS), np.int64)
    alphas = np.zeros(len(layers), np.float32)
    ptrs, idxs, vals, biases = [], [], [], []
    n_ptr = n_nz = n_b = 0
    for l, (w, b, act, alpha) in enumerate(layers):
        n_out, n_in = w.shape
        if l and n_in != meta[l - 1, META_OUT]:
            raise ValueError(f"layer {l} has {n_in} inputs but layer {l - 1} has {meta[l - 1, META_OUT]} outputs")
        ip, ix, d = dense_to_csr(w)
        meta[l] = (n_in, n_out, n_ptr, n_nz, n_b, act)
        alphas[l] = alpha
        ptrs.append(ip)
        idxs.append(ix)
        vals.append(d)
        biases.append(np.zeros(n_out, np.float32) if b is None else np.asarray(b, np.float32).reshape(n_out))
        n_ptr, n_nz, n_b = n_ptr + n_out + 1, n_nz + len(d), n_b + n_out
    return {"meta": meta, "alphas": alphas, "indptr": np.concatenate(ptrs), "indices": np.concatenate(idxs),
            "data": np.concatenate(vals), "bias": np.concatenate(biases)}
