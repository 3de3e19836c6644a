"""Gradient checks for every layer and the MLP container (float64, random shapes, fixed seed)."""
import numpy as np
import pytest

from vae_np.nn import layers
from vae_np.nn.gradcheck import check_layer, max_error

RNG_SEED = 1234


def _shapes(rng, count=3):
    return [(int(rng.integers(2, 7)), int(rng.integers(2, 9)), int(rng.integers(1, 6)))
            for _ in range(count)]


@pytest.mark.parametrize("case", range(3))
def test_linear_gradcheck(case):
    rng = np.random.default_rng(RNG_SEED + case)
    n, d_in, d_out = _shapes(rng, 1)[0]
    layer = layers.Linear(d_in, d_out, rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(d_out)
    errors = check_layer(layer, rng.standard_normal((n, d_in)), rng)
    assert set(errors) == {"X", "W", "b"}
    assert max_error(errors) < 1e-6, errors


@pytest.mark.parametrize("cls", [layers.ReLU, layers.Tanh, layers.Sigmoid, layers.Softplus,
                                 layers.Identity])
def test_activation_gradcheck(cls):
    rng = np.random.default_rng(RNG_SEED)
    X = rng.standard_normal((5, 7)) * 3
    X[np.abs(X) < 1e-3] = 0.5  # keep ReLU away from its kink, where the derivative is undefined
    errors = check_layer(cls(), X, rng)
    assert max_error(errors) < 1e-6, errors


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "softplus"])
def test_mlp_gradcheck(activation):
    rng = np.random.default_rng(RNG_SEED)
    mlp = layers.MLP([6, 5, 4, 3], activation=activation, rng=rng, dtype=np.float64)
    for k in mlp.params:
        if k.endswith(".b"):
            mlp.params[k][:] = 0.1 * rng.standard_normal(mlp.params[k].shape)
    errors = check_layer(mlp, rng.standard_normal((4, 6)), rng)
    assert set(errors) == {"X", "0.W", "0.b", "2.W", "2.b", "4.W", "4.b"}
    assert max_error(errors) < 1e-6, errors


def test_backward_accumulates_and_does_not_modify_dY():
    rng = np.random.default_rng(0)
    layer = layers.Linear(3, 2, rng, dtype=np.float64)
    X = rng.standard_normal((4, 3))
    dY = rng.standard_normal((4, 2))
    dY_copy = dY.copy()
    layer.zero_grad()
    layer.forward(X)
    layer.backward(dY)
    once = layer.grads["W"].copy()
    layer.backward(dY)
    np.testing.assert_allclose(layer.grads["W"], 2 * once)
    np.testing.assert_array_equal(dY, dY_copy)
    relu = layers.ReLU()
    relu.forward(X)
    dX_in = rng.standard_normal(X.shape)
    keep = dX_in.copy()
    relu.backward(dX_in)
    np.testing.assert_array_equal(dX_in, keep)


def test_linear_shapes_and_errors():
    rng = np.random.default_rng(0)
    layer = layers.Linear(4, 3, rng)
    assert layer.params["W"].shape == (4, 3) and layer.params["b"].shape == (3,)
    assert layer.forward(np.zeros((2, 4), np.float32)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        layer.forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=(r"'d_in' parameter of Linear must be an int"
                                          r" in the range \[1, inf\)")):
        layers.Linear(0, 3, rng)
    with pytest.raises(ValueError, match="'activation' parameter of MLP must be a str among .*Got 'gelu'"):
        layers.MLP([3, 2], activation="gelu")


def test_sigmoid_and_softplus_are_stable_for_huge_inputs():
    X = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = layers.Sigmoid().forward(X)
        sp = layers.Softplus().forward(X)
    np.testing.assert_allclose(s, [[0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0]], rtol=1e-12)
    np.testing.assert_allclose(sp, [[0.0, 1.9287498479639178e-22, np.log(2), 50.0, 1e4]],
                               rtol=1e-12)
