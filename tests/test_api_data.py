"""Data that used to give silently wrong results is now rejected, naming the argument.

* complex numbers (their imaginary part was dropped by ``astype(float)``), everywhere data enters:
  models, ``fit``, PCA, mixtures, Gaussians, divergences, estimators, metrics, interpolation;
* ``binarize`` of values outside [0, 1] (grey levels 0-255) or NaN, for both methods;
* zero-sized moon data (no images, a zero-pixel side).
"""
import numpy as np
import pytest

import vae_np
from vae_np import analysis, prob
from vae_np._validation import check_array
from vae_np.data import binarize, moons
from vae_np.nn import gradcheck
from vae_np.prob import divergences, estimators, gaussians

C = np.full((4, 6), 0.5) + 0.5j
R6 = np.full((4, 6), 0.5)
MODEL = vae_np.VAE(6, [5], 2, seed=0)


@pytest.mark.parametrize("call, name", [
    (lambda: check_array(C, "X"), "X"),
    (lambda: MODEL.loss_and_grads(C, np.zeros((4, 2))), "X"),
    (lambda: MODEL.loss_and_grads(R6, np.zeros((4, 2)) + 1j), "eps"),
    (lambda: MODEL.encode(C), "X"),
    (lambda: MODEL.decode(np.zeros((2, 2)) + 1j), "Z"),
    (lambda: vae_np.fit(vae_np.VAE(6, [5], 2), C, 1, 2, vae_np.Adam(), seed=0), "X"),
    (lambda: prob.PCA(2).fit(C), "X"),
    (lambda: prob.GaussianMixture(1).fit(C), "X"),
    (lambda: prob.GaussianMixture(1).set_params([1.0], [[0j]], [[[1.0]]]), "means"),
    (lambda: prob.LinearGaussian(np.ones((3, 2)) * 1j, np.zeros(3), 1.0), "W"),
    (lambda: gaussians.normal_logpdf(1j), "x"),
    (lambda: gaussians.normal_logpdf(0.0, std=1 + 1j), "std"),
    (lambda: gaussians.mvn_logpdf(np.zeros((2, 2)), np.zeros(2) + 1j, np.eye(2)), "mean"),
    (lambda: gaussians.cholesky(np.eye(2) * (1 + 0j)), "cov"),
    (lambda: divergences.kl_normal(1j, 0.0), "mu_q"),
    (lambda: divergences.kl_mvn(np.zeros(2), np.eye(2) + 0j, np.zeros(2), np.eye(2)), "cov_q"),
    (lambda: estimators.mean_and_stderr(np.ones(3) * 1j), "samples"),
    (lambda: estimators.exponential_reparam(np.zeros(3) + 0.1j, 1.0), "u"),
    (lambda: gradcheck.relative_error(np.ones(2) * 1j, np.ones(2)), "analytic"),
    (lambda: analysis.sampling.lerp(np.zeros(2) + 1j, np.ones(2), 3), "a"),
    (lambda: analysis.metrics.kl_per_dimension(np.zeros((2, 2)) + 1j, np.zeros((2, 2))), "mu"),
    (lambda: analysis.metrics.bernoulli_nll_naive(np.zeros((2, 2)) + 1j, np.zeros((2, 2))),
     "logits"),
    (lambda: binarize(C, np.random.default_rng(0)), "X"),
])
def test_complex_data_is_rejected_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name} has complex values .*imaginary part"):
        call()


def test_the_imaginary_part_is_no_longer_dropped():
    with pytest.raises(ValueError, match=r"pass X.real if it is zero, or np.abs\(X\)"):
        prob.PCA(1).fit(np.array([[1, 2], [3, 4 + 1e-9j], [5, 7]]))


@pytest.mark.parametrize("method", ["stochastic", "threshold"])
@pytest.mark.parametrize("X, fragment", [
    (np.array([[0.2, 1.5]]), r"values in \[0.2, 1.5\].*X / 255"),
    (np.array([[-0.1, 0.5]]), r"values in \[-0.1, 0.5\]"),
    (np.array([[0, 255]], dtype=np.uint8), r"values in \[0, 255\]"),
    (np.array([[0.5, np.nan]]), r"X contains NaN or inf \(first at index \(0, 1\)\)"),
    (np.array([[np.inf]]), "X contains NaN or inf"),
])
def test_binarize_rejects_values_outside_the_unit_interval(method, X, fragment):
    with pytest.raises(ValueError, match=fragment):
        binarize(X, np.random.default_rng(0), method=method)


def test_binarize_still_binarizes_valid_data():
    X = np.array([[0.0, 0.3, 1.0]], np.float32)
    assert binarize(X, method="threshold").tolist() == [[0, 0, 1]]
    b = binarize(np.full((200, 50), 0.3, np.float32), np.random.default_rng(0))
    assert b.dtype == np.float32 and set(np.unique(b)) <= {0, 1} and 0.25 < b.mean() < 0.35
    assert binarize(np.ones((2, 3, 4)), np.random.default_rng(0)).shape == (2, 3, 4)


@pytest.mark.parametrize("call, fragment", [
    (lambda: moons.moon_lit_fraction(np.zeros((0, 784))), r"images is empty \(shape \(0, 784\)\)"),
    (lambda: moons.moon_lit_fraction(np.zeros((3, 0))), "images is empty"),
    (lambda: moons.moon_lit_fraction(np.zeros((2, 700))), "700 pixels each, not a square number"),
    (lambda: moons.moon_lit_fraction(np.zeros((2, 64)), size=7), r"shape \(n, 49\) or \(n, 7, 7\)"),
    (lambda: moons.moon_lit_fraction(np.zeros((2, 8, 9))), "not a square number"),
    (lambda: moons.moon_image(0.5, size=0), "'size' parameter of moon_image"),
    (lambda: vae_np.make_moons(0, np.random.default_rng(0)), "'n' parameter of make_moons"),
    (lambda: vae_np.make_moons(3, None, phases=[]), r"phases must have shape \(3,\)"),
    (lambda: vae_np.make_moons(2, None, phases=[0.5, 1.2]), r"phases must lie in \[0, 1\]"),
    (lambda: vae_np.make_moons(2, None, phases=[0.5, np.nan]), "phases contains NaN"),
])
def test_zero_sized_or_inconsistent_moon_data(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


def test_moon_lit_fraction_accepts_both_layouts():
    X, phases = vae_np.make_moons(3, np.random.default_rng(0), size=16)
    flat = moons.moon_lit_fraction(X)
    np.testing.assert_allclose(moons.moon_lit_fraction(X.reshape(3, 16, 16)), flat)
    np.testing.assert_allclose(flat, phases, atol=0.02)
