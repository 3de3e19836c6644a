"""The sparse first layer (vae_np.fast.sparse): kernels against NumPy, the step against dense.

Tolerances. A sum of k products computed in floating point in any order differs from the exact
sum by at most gamma_k * sum |terms| with gamma_k = k u / (1 - k u) (u = 2**-24 for float32,
2**-53 for float64; Higham, Accuracy and Stability of Numerical Algorithms, 3.1), plus one
rounding of the bias addition; the kernel tests use this bound with k = the number of terms of
each sum + 2, against a float64 reference (exact enough: its own error is far below the float32
bound). The full steps, whose sums are in other orders through several layers, are compared
like the fused step is compared with the reference in test_step.py.
"""
import math

import numpy as np
import pytest
from fast_helpers import DTYPES, assert_grads_close, copied, needs_jit

import vae_np
from vae_np._validation import InvalidParameterError
from vae_np.fast import backends, sparse
from vae_np.fast import step as fast_step


def _unit(dtype):
    return 2.0 ** (-24 if dtype == np.float32 else -53)


def _cases(rng, d, dtype):
    """Batches that exercise every branch: binary, grey, all-zero rows, dense rows, n = 1."""
    binary = (rng.random((9, d)) < 0.15).astype(dtype)
    binary[2] = 0                                              # an all-zero row
    binary[5] = 1                                              # a dense row
    grey = binary * rng.random((9, d)).astype(dtype)           # values in [0, 1)
    grey[0, :7] = [0.25, 0.5, 1.0, 1.0, 0.0, 0.75, 1e-3]
    return {"binary": binary, "grey": grey, "all zero": np.zeros((4, d), dtype),
            "dense": (0.5 + 0.5 * rng.random((3, d))).astype(dtype),
            "one row": (rng.random((1, d)) < 0.3).astype(dtype),
            "one pixel": np.eye(1, d, 3, dtype=dtype)}


def _reference_index(X):
    nz = X != 0
    rows_of = [np.flatnonzero(nz[:, j]) for j in range(X.shape[1])]
    return [np.flatnonzero(r) for r in nz], rows_of


@pytest.mark.parametrize("dtype", DTYPES)
def test_index_lists_the_nonzeros_by_row_and_by_column(dtype):
    rng = np.random.default_rng(0)
    d = 13
    for name, X in _cases(rng, d, dtype).items():
        index = sparse.SparseIndex(*X.shape)
        assert sparse.index_batch(X, index), name
        cols_of, rows_of = _reference_index(X)
        assert index.nnz == np.count_nonzero(X), name
        for i, cols in enumerate(cols_of):
            np.testing.assert_array_equal(index.cols[index.rowptr[i]:index.rowptr[i + 1]], cols)
        for j, rows in enumerate(rows_of):
            np.testing.assert_array_equal(index.rows[index.colptr[j]:index.colptr[j + 1]], rows)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_the_index_built_in_blocks_is_the_same_index(dtype, parts):
    """The several-core step's index: counts, then rows by blocks of rows, then columns by
    blocks of columns (blocks filled in reverse order, as threads may finish in any order)."""
    rng = np.random.default_rng(parts)
    d = 13
    cases = _cases(rng, d, dtype)
    signed = cases["binary"].copy()
    signed[1, :4] = [-0.0, np.nan, -1.0, 0.0]                  # -0.0 is zero, NaN is not
    cases["signs and NaN"] = signed
    for name, X in cases.items():
        whole = sparse.SparseIndex(*X.shape)
        assert sparse.index_batch(X, whole), name
        blocks = sparse.SparseIndex(*X.shape)
        assert sparse._count_batch(X, blocks) and blocks.nnz == whole.nnz, name
        blocks.cols[:], blocks.rows[:] = -7, -7                 # nothing left from before
        (n, _), cursor = X.shape, np.empty(d, np.int32)
        bits, mask = sparse._bits(X)
        for c in reversed(range(parts)):
            sparse._fill_rows_nb(bits, mask, blocks.rowptr, blocks.cols, c * n // parts,
                                 (c + 1) * n // parts)
        for c in reversed(range(parts)):
            sparse._fill_cols_nb(blocks.rowptr, blocks.cols, blocks.colptr, blocks.rows, cursor,
                                 c * d // parts, (c + 1) * d // parts)
        nnz = whole.nnz
        for a, b in ((whole.rowptr, blocks.rowptr), (whole.colptr, blocks.colptr),
                     (whole.cols[:nnz], blocks.cols[:nnz]), (whole.rows[:nnz], blocks.rows[:nnz])):
            np.testing.assert_array_equal(a, b, err_msg=name)
    over = sparse.SparseIndex(4, 10, 0.1)
    assert not sparse._count_batch(np.ones((4, 10), dtype), over) and over.nnz == -1


def test_index_gives_up_over_its_budget_and_only_then():
    X = np.zeros((4, 10), np.float32)
    X[0, :5] = 1                                                # 5 of 40: density 0.125
    assert sparse.index_batch(X, sparse.SparseIndex(4, 10, 0.125))      # exactly the budget
    over = sparse.SparseIndex(4, 10, 0.1)                       # room for 4
    assert not sparse.index_batch(X, over) and over.nnz == -1
    X[3, :] = 1                                                 # the excess in the last row
    assert not sparse.index_batch(X, sparse.SparseIndex(4, 10, 0.3))
    assert sparse.index_batch(X, sparse.SparseIndex(4, 10, 0.375))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["relu", "identity", "tanh"])
def test_sparse_forward_matches_numpy(dtype, act):
    rng = np.random.default_rng(1)
    d, h = 13, 11                                  # h not a multiple of the vector width
    W = rng.standard_normal((d, h)).astype(dtype)
    b = rng.standard_normal(h).astype(dtype)
    for name, X in _cases(rng, d, dtype).items():
        index = sparse.SparseIndex(*X.shape)
        assert sparse.index_batch(X, index)
        Y = np.full((X.shape[0], h), np.nan, dtype)
        assert sparse.sparse_forward(X, index, W, b, act, Y) is Y
        X64, W64 = X.astype(np.float64), W.astype(np.float64)
        Z = X64 @ W64 + b
        k = np.count_nonzero(X, axis=1)[:, None] + 2
        bound = k * _unit(dtype) * 1.01 * (np.abs(X64) @ np.abs(W64) + np.abs(b))
        if act == "identity":
            assert np.all(np.abs(Y - Z) <= bound), name
        elif act == "relu":                        # ReLU is 1-Lipschitz: the same bound holds
            assert np.all(np.abs(Y - np.maximum(Z, 0)) <= bound), name
        else:                                      # tanh is 1-Lipschitz, plus its own rounding
            assert np.all(np.abs(Y - np.tanh(Z)) <= bound + 4 * _unit(dtype)), name


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_weight_grad_matches_numpy(dtype):
    rng = np.random.default_rng(2)
    d, h = 13, 11
    for name, X in _cases(rng, d, dtype).items():
        G = rng.standard_normal((X.shape[0], h)).astype(dtype)
        index = sparse.SparseIndex(*X.shape)
        assert sparse.index_batch(X, index)
        dW = np.full((d, h), np.nan, dtype)
        assert sparse.sparse_weight_grad(X, index, G, dW) is dW
        X64, G64 = X.astype(np.float64), G.astype(np.float64)
        k = np.count_nonzero(X, axis=0)[:, None] + 2
        bound = k * _unit(dtype) * 1.01 * (np.abs(X64).T @ np.abs(G64))
        assert np.all(np.abs(dW - X64.T @ G64) <= bound), name
        assert np.all(dW[~X.any(axis=0)] == 0), name    # pixels off in the whole batch
        assert sparse._sparse_weight_grad(X, index, G, dW) == 0, name   # its NaN/inf count


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_sparse_weight_grad_counts_the_nonfinite_values_it_writes(value):
    rng = np.random.default_rng(3)
    X = (rng.random((9, 13)) < 0.3).astype(np.float32)
    X[:, 0] = 0                                     # a pixel off in the whole batch
    X[4, 5] = 1
    G = rng.standard_normal((9, 11)).astype(np.float32)
    index = sparse.SparseIndex(*X.shape)
    assert sparse.index_batch(X, index)
    G[4, 2] = value                                 # reaches dW[j, 2] for every pixel j on in row 4
    dW = np.empty((13, 11), np.float32)
    with np.errstate(invalid="ignore"):             # inf - inf, when interpreted
        bad = sparse._sparse_weight_grad(X, index, G, dW)
    assert bad == np.count_nonzero(~np.isfinite(dW)) == np.count_nonzero(X[4])


def test_kernels_check_their_arguments():
    X = np.zeros((3, 5), np.float32)
    index = sparse.SparseIndex(3, 5)
    W, b, Y = np.zeros((5, 4), np.float32), np.zeros(4, np.float32), np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="does not describe a batch"):
        sparse.sparse_forward(X, index, W, b, "relu", Y)           # never indexed
    assert sparse.index_batch(X, index)
    with pytest.raises(InvalidParameterError, match="'W'.*shape"):
        sparse.sparse_forward(X, index, W[:4], b, "relu", Y)
    with pytest.raises(InvalidParameterError, match="'Y'.*shape"):
        sparse.sparse_forward(X, index, W, b, "relu", Y[:2])
    with pytest.raises(InvalidParameterError, match="'act'"):
        sparse.sparse_forward(X, index, W, b, "swish", Y)
    with pytest.raises(InvalidParameterError, match="'X'.*shape"):
        sparse.index_batch(np.zeros((2, 5), np.float32), index)
    with pytest.raises(InvalidParameterError, match="'index'"):
        sparse.sparse_weight_grad(X, "index", Y, W)
    with pytest.raises(InvalidParameterError, match="'dW'.*shape"):
        sparse.sparse_weight_grad(X, index, Y, W.T.copy())
    with pytest.raises(InvalidParameterError, match="'max_density'"):
        sparse.SparseIndex(3, 5, 1.5)
    with pytest.raises(InvalidParameterError, match="'n'"):
        sparse.SparseIndex(0, 5)


def test_first_layer_setting_is_validated_and_restored():
    assert backends.get_first_layer() == "auto"
    with pytest.raises(InvalidParameterError, match="'mode'.*auto"):
        backends.set_first_layer("fast")
    with pytest.raises(InvalidParameterError, match="'mode'"):
        with backends.first_layer(None):
            pass
    with pytest.raises(RuntimeError):
        with backends.first_layer("sparse"):
            assert backends.get_first_layer() == "sparse"
            raise RuntimeError
    assert backends.get_first_layer() == "auto"
    backends.set_first_layer("dense")
    try:
        assert backends.get_first_layer() == "dense"
    finally:
        backends.set_first_layer("auto")


# ---------------------------------------------------------------- the whole step
CASES = [(vae_np.VAE, {}), (vae_np.VAE, {"likelihood": "gaussian", "obs_std": 0.6}),
         (vae_np.Autoencoder, {}), (vae_np.Autoencoder, {"code_noise": 0.3})]


def _step(model, X, eps, mode, beta=1.0):
    """The fast step under a first-layer mode, and whether it ran on the sparse kernels."""
    ws = fast_step._workspaces.get(model, {}).get(X.shape[0])
    if ws is not None and ws.index is not None:
        ws.index.nnz = -1                          # so that a dense step leaves it unfilled
    with backends.first_layer(mode):
        loss, grads = fast_step.loss_and_grads(model, X, eps, beta)
    used = fast_step._workspaces[model][X.shape[0]].index
    return loss, copied(grads), dict(model.terms), used is not None and used.nnz >= 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,kw", CASES)
@pytest.mark.parametrize("hidden,act", [((24,), "relu"), ((), "relu"), ((16, 8), "tanh")])
def test_sparse_and_dense_steps_agree(dtype, cls, kw, hidden, act):
    rng = np.random.default_rng(3)
    d, k = 13, 3
    model = cls(d, hidden, k, activation=act, seed=4, dtype=dtype, **kw)
    for p in model.params.values():                    # non-zero biases
        p += (0.1 * rng.standard_normal(p.shape)).astype(p.dtype)
    tol = 2e-5 if dtype == np.float32 else 1e-11
    for name, X in _cases(rng, d, dtype).items():
        eps = rng.standard_normal((X.shape[0], k)).astype(dtype)
        loss_d, g_d, terms_d, used_d = _step(model, X, eps, "dense", 0.7)
        loss_s, g_s, terms_s, used_s = _step(model, X, eps, "sparse", 0.7)
        assert used_s and not used_d, name
        assert loss_s == pytest.approx(loss_d, rel=tol), name
        for key in ("recon", "kl"):
            assert terms_s[key] == pytest.approx(terms_d[key], rel=tol, abs=tol), name
        assert_grads_close(g_s, g_d, rtol=tol * (50 if dtype == np.float32 else 1))
        loss_r, g_r = model.loss_and_grads(X, eps, 0.7)      # and both against the reference
        assert loss_s == pytest.approx(loss_r, rel=tol), name
        assert_grads_close(g_s, copied(g_r), rtol=tol * (50 if dtype == np.float32 else 1))


def test_auto_takes_the_sparse_kernels_only_below_the_threshold():
    rng = np.random.default_rng(4)
    model = vae_np.VAE(40, (12,), 3, seed=0)
    n, cells = 10, 400
    eps = rng.standard_normal((n, 3)).astype(np.float32)
    limit = sparse.SparseIndex(n, 40, sparse.AUTO_MAX_DENSITY).max_nnz   # its budget
    assert limit == math.ceil(sparse.AUTO_MAX_DENSITY * cells)
    for nnz, expected in [(0, True), (limit, True), (limit + 1, False), (cells, False)]:
        X = np.zeros(cells, np.float32)
        X[rng.permutation(cells)[:nnz]] = 1
        assert _step(model, X.reshape(n, 40), eps, "auto")[3] == expected, nnz


def test_the_first_layers_input_gradient_is_never_computed(monkeypatch):
    """11 GEMMs in a dense step (4 forward, 7 backward: no dX of the first layer), 9 sparse."""
    calls = []
    matmul = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **kw: calls.append(1) or matmul(*a, **kw))
    model = vae_np.VAE(30, (8,), 2, seed=0)
    X = (np.random.default_rng(0).random((5, 30)) < 0.1).astype(np.float32)
    eps = np.zeros((5, 2), np.float32)
    for mode, count in (("dense", 11), ("sparse", 9)):
        calls.clear()
        _step(model, X, eps, mode)
        assert len(calls) == count, mode


@pytest.mark.parametrize("cls,kw", CASES)
def test_sparse_step_gradient_check(cls, kw):
    """Finite differences on the sparse path (float64, fixed eps, a mostly-zero batch)."""
    rng = np.random.default_rng(5)
    model = cls(7, (5,), 2, seed=1, dtype=np.float64, **kw)
    model.params["enc.0.b"][:] = rng.uniform(0.2, 0.5, 5)      # zero rows off the ReLU kink
    X = (rng.random((4, 7)) < 0.3) * rng.uniform(0.5, 1.0, (4, 7))
    eps = rng.standard_normal((4, 2))
    with backends.first_layer("sparse"):
        _, grads = fast_step.loss_and_grads(model, X, eps, 1.3)
        grads = copied(grads)
        h = 1e-6
        for name, p in model.params.items():
            num = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + h
                lp = fast_step.loss_and_grads(model, X, eps, 1.3)[0]
                p[i] = old - h
                lm = fast_step.loss_and_grads(model, X, eps, 1.3)[0]
                p[i] = old
                num[i] = (lp - lm) / (2 * h)
            err = np.linalg.norm(num - grads[name]) / max(np.linalg.norm(num), 1e-12)
            assert err < 1e-6, (name, err)


@needs_jit
def test_sparse_step_at_the_books_size_allocates_almost_nothing():
    import tracemalloc
    rng = np.random.default_rng(6)
    model = vae_np.VAE(784, (400,), 20, seed=0)
    step = vae_np.train.make_step(model, vae_np.Adam(1e-3))
    X = (rng.random((128, 784)) < 0.13).astype(np.float32)
    eps = rng.standard_normal((128, 20)).astype(np.float32)
    loss_d, g_d, _, used = _step(model, X, eps, "dense")
    loss_s, g_s, _, used_s = _step(model, X, eps, "auto")
    assert used_s and loss_s == pytest.approx(loss_d, rel=1e-6)
    assert_grads_close(g_s, g_d, rtol=1e-5)
    step(X, eps)
    tracemalloc.start()
    try:
        for _ in range(3):
            assert step(X, eps)[1] is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, f"a step allocated {peak} bytes"


