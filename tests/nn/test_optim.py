"""The reference optimizers (vae_np.nn.optim) against steps computed by hand, and the flat
parameter storage of the models (vae_np.nn.params)."""
import copy
import pickle

import numpy as np
import pytest

import vae_np
from vae_np.fast.flat import tiled_base
from vae_np.nn.optim import SGD, Adagrad, Adam


def _pg(dtype=np.float64):
    return ({"w": np.array([1.0, -2.0, 3.0], dtype)}, {"w": np.array([0.5, 0.1, -1.0], dtype)})


def test_sgd_plain_and_momentum():
    params, grads = _pg()
    SGD(lr=0.1).step(params, grads)
    np.testing.assert_allclose(params["w"], [0.95, -2.01, 3.1])
    params, grads = _pg()
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(params, grads)            # v1 = -0.1 g
    opt.step(params, grads)            # v2 = 0.9 v1 - 0.1 g = -0.19 g
    np.testing.assert_allclose(params["w"], np.array([1.0, -2.0, 3.0]) - 0.29 * grads["w"])


def test_adagrad_two_steps():
    params, grads = _pg()
    opt = Adagrad(lr=0.5, eps=1e-8)
    opt.step(params, grads)
    g = grads["w"]
    expected = np.array([1.0, -2.0, 3.0]) - 0.5 * g / (np.sqrt(g ** 2) + 1e-8)
    np.testing.assert_allclose(params["w"], expected)
    opt.step(params, grads)
    expected -= 0.5 * g / (np.sqrt(2 * g ** 2) + 1e-8)
    np.testing.assert_allclose(params["w"], expected)


def test_adam_matches_algorithm_1_of_kingma_and_ba():
    params, _ = _pg()
    rng = np.random.default_rng(0)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = Adam(lr=lr)
    p, m, v = params["w"].copy(), np.zeros(3), np.zeros(3)
    for t in range(1, 6):
        g = rng.standard_normal(3)
        opt.step(params, {"w": g.copy()})
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(params["w"], p, rtol=1e-12)
    # the first Adam step moves every coordinate by about lr, whatever the gradient scale
    params2 = {"w": np.zeros(2)}
    Adam(lr=0.01).step(params2, {"w": np.array([1e-4, 1e4])})
    np.testing.assert_allclose(params2["w"], [-0.01, -0.01], rtol=1e-3)


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adagrad(0.05),
                                  lambda: Adam(1e-3)])
def test_float32_updates_stay_float32_and_follow_the_float64_maths(make):
    rng = np.random.default_rng(1)
    g = rng.standard_normal(1000).astype(np.float32)
    params32, params64 = {"w": np.ones(1000, np.float32)}, {"w": np.ones(1000)}
    opt32, opt64 = make(), make()
    for _ in range(3):
        opt32.step(params32, {"w": g})
        opt64.step(params64, {"w": g.astype(np.float64)})
    assert params32["w"].dtype == np.float32
    assert all(s.dtype == np.float32 for s in opt32.state["w"])
    np.testing.assert_allclose(params32["w"], params64["w"], rtol=1e-6, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"'lr' parameter of Adam must be a float in the range \(0.0, inf\)"):
        Adam(lr=0)
    with pytest.raises(ValueError, match=r"'lr' parameter of SGD must be a float in the range \(0.0, inf\)"):
        SGD(lr=-1)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="same keys"):
        Adam().step({"a": np.zeros(2)}, {"b": np.zeros(2)})
    with pytest.raises(ValueError, match="has shape"):
        Adam().step({"a": np.zeros(2)}, {"a": np.zeros(3)})


# ------------------------------------------------------------------ flat parameter storage


@pytest.mark.parametrize("cls", [vae_np.VAE, vae_np.Autoencoder])
def test_model_parameters_and_gradients_tile_one_buffer_each(cls):
    model = cls(7, (5, 3), 2, seed=0)
    flat_p = tiled_base(list(model.params.values()))
    flat_g = tiled_base(list(model.grads.values()))
    assert flat_p is not None and flat_g is not None
    assert flat_p.size == flat_g.size == model.n_params and flat_p.dtype == model.dtype
    # the layers, the MLPs and the model see the same arrays
    assert model.params["enc.0.W"] is model.encoder.params["0.W"] is \
        model.encoder.layers[0].params["W"]
    assert model.grads["dec.0.b"] is model.decoder.layers[0].grads["b"]
    flat_p[0] = 0.25                                   # a view, not a copy
    assert model.params["enc.0.W"][0, 0] == 0.25
    # not tiled: a gap, a reordering, a separate copy
    names = list(model.params)
    assert tiled_base([model.params[k] for k in names[::2]]) is None
    assert tiled_base([model.params[k] for k in names[::-1]]) is None
    assert tiled_base([p.copy() for p in model.params.values()]) is None
    assert tiled_base([]) is None
    # a deep copy or an unpickled model is packed again, with its own buffers
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        flat_c = tiled_base(list(clone.params.values()))
        assert flat_c is not None and not np.shares_memory(flat_c, flat_p)
        np.testing.assert_array_equal(flat_c, flat_p)
        assert tiled_base(list(clone.grads.values())) is not None
        assert clone.params["enc.0.W"] is clone.encoder.layers[0].params["W"]


def _separate(d):
    """The same values in arrays of their own: the optimizer's per-array path."""
    return {k: v.copy() for k, v in d.items()}
