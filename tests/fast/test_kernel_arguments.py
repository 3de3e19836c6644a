"""The public functions of vae_np.fast never let a compiled loop read or write past an array.

numba does not check indices: ``bias_act_forward(Z, b)`` with a bias shorter than a row of ``Z``
used to read past its end. Every public kernel wrapper (elementwise, step, flat, matmul) now
checks its arrays' shapes, dtypes, C-contiguity and (for outputs) writeability before the kernel
runs: attribute comparisons only, so the fused step keeps its speed (it calls the unchecked
kernels on buffers that fit by construction).
"""
import numpy as np
import pytest
from fast_helpers import JIT_DISABLED

import vae_np
from vae_np.fast import elementwise as ew
from vae_np.fast import flat, matmul, reparam
from vae_np.fast import step as fast_step

F = np.float32


def z(*shape, dtype=F):
    return np.zeros(shape, dtype)


def readonly(a):
    a.flags.writeable = False
    return a


N, D, K = 4, 5, 3
MODEL = vae_np.VAE(D, [6], K, seed=0)
AE = vae_np.Autoencoder(D, [6], K, seed=0)

CASES = [
    # bias + activation
    ("bias_act_forward", lambda: ew.bias_act_forward(z(N, D), z(D - 1), "relu"), "b",
     r"shape \(5,\)"),
    ("bias_act_forward", lambda: ew.bias_act_forward(z(N, D), z(D, dtype=np.float64), "relu"), "b",
     "dtype float32"),
    ("bias_act_forward", lambda: ew.bias_act_forward(z(N, 2 * D)[:, ::2], z(D), "relu"), "Z",
     "C-contiguous"),
    ("bias_act_forward", lambda: ew.bias_act_forward(readonly(z(N, D)), z(D), "relu"), "Z",
     "read-only"),
    ("bias_act_forward", lambda: ew.bias_act_forward([[0.0] * D], z(D), "relu"), "Z",
     "a NumPy array"),
    ("bias_act_forward", lambda: ew.bias_act_forward(z(N, D, dtype=np.int64), z(D), "relu"), "Z",
     "float32 or float64"),
    ("bias_act_forward", lambda: ew.bias_act_forward(z(D), z(D), "relu"), "Z", r"shape \(any, any\)"),
    ("bias_act_forward", lambda: ew.bias_act_forward(z(N, D), z(D), "gelu"), "act", "a str among"),
    # activation backward + bias gradient
    ("act_backward_bias", lambda: ew.act_backward_bias(z(N, D), z(N, D - 1), "relu", z(D)), "Y",
     r"shape \(4, 5\)"),
    ("act_backward_bias", lambda: ew.act_backward_bias(z(N, D), z(N, D), "relu", z(D - 2)), "db",
     r"shape \(5,\)"),
    ("act_backward_bias", lambda: ew.act_backward_bias(z(N, D), z(N, D), "relu",
                                                       readonly(z(D))), "db", "read-only"),
    # likelihood kernels
    ("bernoulli_nll_grad_bias", lambda: ew.bernoulli_nll_grad_bias(
        z(N, D), z(D - 1), z(N, D), 0.25, None, None, z(D)), "b", r"shape \(5,\)"),
    ("bernoulli_nll_grad_bias", lambda: ew.bernoulli_nll_grad_bias(
        z(N, D), z(D), z(N - 1, D), 0.25, None, None, z(D)), "X", r"shape \(4, 5\)"),
    ("bernoulli_nll_grad_bias", lambda: ew.bernoulli_nll_grad_bias(
        z(N, D), z(D), z(N, D, dtype=np.float64), 0.25, None, None, z(D)), "X", "dtype float32"),
    ("bernoulli_nll_grad_bias", lambda: ew.bernoulli_nll_grad_bias(
        z(N, D), z(D), z(N, D), 0.25, None, None, z(D - 1)), "db", r"shape \(5,\)"),
    ("bernoulli_nll_grad_bias", lambda: ew.bernoulli_nll_grad_bias(
        z(N, D), z(D), z(N, D), 0.25, None, None, z(D), z(D - 1)), "col", r"shape \(5,\)"),
    ("bernoulli_nll_grad_bias", lambda: ew.bernoulli_nll_grad_bias(
        z(N, D), z(D), z(N, D), 0.25, None, None, z(D), None, z(D)), "total", "dtype float64"),
    ("bernoulli_nll_grad_bias", lambda: ew.bernoulli_nll_grad_bias(
        *(z(N, D, dtype=np.float64), z(D, dtype=np.float64), z(N, D, dtype=np.float64)), 0.25,
        None, None, z(D, dtype=np.float64)), "E", "a NumPy array"),
    ("bernoulli_nll_grad_bias", lambda: ew.bernoulli_nll_grad_bias(
        z(N, D), z(D), z(N, D), "0.25", None, None, z(D)), "scale", "a float"),
    ("gaussian_nll_grad_bias", lambda: ew.gaussian_nll_grad_bias(
        z(N, D), z(D + 1), z(N, D), 1.0, 0.25, z(D)), "b", r"shape \(5,\)"),
    ("gaussian_nll_grad_bias", lambda: ew.gaussian_nll_grad_bias(
        z(N, D), z(D), z(N, D), 0.0, 0.25, z(D)), "obs_std", r"\(0.0, inf\)"),
    # the sampling layer
    ("reparam_kl", lambda: reparam.reparam_kl(z(N, 2 * K), z(N, K - 1), z(N, K), z(N, K)), "eps",
     r"shape \(4, 3\)"),
    ("reparam_kl", lambda: reparam.reparam_kl(z(N, 2 * K + 1), z(N, K), z(N, K), z(N, K)), None,
     "even number of columns"),
    ("reparam_kl", lambda: reparam.reparam_kl(z(N, 2 * K), z(N, K), z(N - 1, K), z(N, K)), "S",
     r"shape \(4, 3\)"),
    ("reparam_backward_bias", lambda: reparam.reparam_backward_bias(
        z(N, K), z(N, K), z(N, K), z(N, 2 * K), 0.1, z(N, 2 * K), z(K)), "db", r"shape \(6,\)"),
    ("reparam_backward_bias", lambda: reparam.reparam_backward_bias(
        z(N, K), z(N, K), z(N, K), z(N, 2 * K), -1.0, z(N, 2 * K), z(2 * K)), "beta_scale",
     r"\[0.0, inf\)"),
    # the fused step
    ("loss_and_grads", lambda: fast_step.loss_and_grads(MODEL, z(N, D + 1), z(N, K)), "X",
     r"shape \(any, 5\)"),
    ("loss_and_grads", lambda: fast_step.loss_and_grads(MODEL, z(N, D), z(N - 1, K)), "eps",
     r"shape \(4, 3\)"),
    ("loss_and_grads", lambda: fast_step.loss_and_grads(MODEL, z(N, D), z(N, K - 1)), "eps",
     r"shape \(4, 3\)"),
    ("loss_and_grads", lambda: fast_step.loss_and_grads(MODEL, z(N, D), None), "eps",
     "a NumPy array"),
    ("loss_and_grads", lambda: fast_step.loss_and_grads(MODEL, z(N, D, dtype=np.float64),
                                                        z(N, K)), "X", "dtype float32"),
    ("loss_and_grads", lambda: fast_step.loss_and_grads(MODEL, np.asfortranarray(z(N, D)),
                                                        z(N, K)), "X", "C-contiguous"),
    ("loss_and_grads", lambda: fast_step.loss_and_grads(MODEL, z(N, D), z(N, K), beta=-1), "beta",
     r"\[0.0, inf\)"),
    ("loss_and_grads", lambda: fast_step.loss_and_grads(MODEL, z(0, D), z(0, K)), None, "empty"),
    ("loss_and_grads", lambda: fast_step.loss_and_grads(AE, z(N, D), z(N, K + 1)), "eps",
     r"shape \(4, 3\)"),
    # matmul
    ("matmul_bias_act", lambda: matmul.matmul_bias_act(z(N, D), z(D, 7), z(7), out=z(N - 1, 7)),
     "out", r"shape \(4, 7\)"),
    ("matmul_bias_act", lambda: matmul.matmul_bias_act(z(N, D), z(D, 7), z(7),
                                                       out=z(N, 7, dtype=np.float64)), "out",
     "dtype float32"),
    ("matmul_bias_act", lambda: matmul.matmul_bias_act(z(N, D), z(D, 7), z(7),
                                                       out=readonly(z(N, 7))), "out", "read-only"),
    ("matmul_bias_act", lambda: matmul.matmul_bias_act(z(N, D), z(D, 7), z(6)), None,
     "shapes do not fit"),
    ("matmul_bias_act", lambda: matmul.matmul_bias_act(z(N, D) + 1j, z(D, 7), z(7)), "A",
     "complex"),
]


@pytest.mark.parametrize("owner, call, name, fragment", CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_kernel_arguments_are_checked_before_the_kernel_runs(owner, call, name, fragment):
    with pytest.raises((ValueError, TypeError), match=fragment) as info:
        call()
    msg = str(info.value)
    assert owner in msg or name is None or "could not" in msg or "complex" in msg, msg
    if name is not None:
        assert f"'{name}'" in msg or msg.startswith(f"{name} "), msg


def test_an_array_that_is_not_one_is_a_type_error():
    with pytest.raises(TypeError, match="'b' parameter of bias_act_forward must be a NumPy array"):
        ew.bias_act_forward(z(N, D), [0.0] * D, "relu")


@pytest.mark.skipif(JIT_DISABLED, reason="the out-of-bounds read happens in compiled code")
def test_a_short_bias_is_refused_not_read_past_its_end():
    """The bias of the issue: 3 values for rows of 400. Before the check, the compiled loop read
    whatever followed the array in memory (the result differed from run to run)."""
    Z = np.zeros((2, 400), F)
    with pytest.raises(ValueError, match=r"'b' parameter of bias_act_forward must have shape "
                                         r"\(400,\), got shape \(3,\)"):
        ew.bias_act_forward(Z, np.ones(3, F), "identity")
    assert not Z.any()                                 # nothing was written either


def test_checked_kernels_give_the_unchecked_results():
    rng = np.random.default_rng(0)
    Z, b = rng.standard_normal((N, D)).astype(F), rng.standard_normal(D).astype(F)
    np.testing.assert_array_equal(ew.bias_act_forward(Z.copy(), b, "relu"),
                                  ew._bias_act_forward(Z.copy(), b, "relu"))
    H, eps = rng.standard_normal((N, 2 * K)).astype(F), rng.standard_normal((N, K)).astype(F)
    S1, Z1, S2, Z2 = z(N, K), z(N, K), z(N, K), z(N, K)
    assert reparam.reparam_kl(H, eps, S1, Z1) == reparam._reparam_kl(H, eps, S2, Z2)
    np.testing.assert_array_equal(Z1, Z2)


def test_flat_passes_check_their_arguments():
    assert flat.all_finite([1.0, 2.0]) and not flat.all_finite([1.0, np.nan])
    assert flat.tiled_base([]) is None
    with pytest.raises(TypeError, match="'arrays' parameter of tiled_base"):
        flat.tiled_base(({"a": 1},))
