"""The paper's initialisation option: every parameter from N(0, init_std**2); defaults unchanged."""
import io as _io

import numpy as np
import pytest

import vae_np
from vae_np.nn.layers import MLP, Linear


def test_linear_normal_init_draws_weights_and_biases():
    layer = Linear(400, 300, np.random.default_rng(0), init="normal", init_std=0.01)
    W, b = layer.params["W"], layer.params["b"]
    # 120,000 draws: the sample std is within 1% of 0.01; the biases are drawn too, not zero
    assert abs(W.std() - 0.01) < 1e-4 and abs(W.mean()) < 1e-4
    assert b.any() and abs(b.std() - 0.01) < 2e-3
    wide = Linear(400, 300, np.random.default_rng(0), init="normal", init_std=0.5)
    assert abs(wide.params["W"].std() - 0.5) < 5e-3


def test_defaults_are_unchanged():
    # He for ReLU hidden layers, Glorot for the last one, zero biases, one stream of draws
    rng = np.random.default_rng(3)
    mlp = MLP([20, 30, 10], "relu", rng=np.random.default_rng(3))
    W0 = rng.standard_normal((20, 30)) * np.sqrt(2 / 20)
    W1 = rng.standard_normal((30, 10)) * np.sqrt(2 / 40)
    np.testing.assert_allclose(mlp.params["0.W"], W0.astype(np.float32))
    np.testing.assert_allclose(mlp.params["2.W"], W1.astype(np.float32))
    assert not mlp.params["0.b"].any()
    a, b = vae_np.VAE(30, [8], 3, seed=1), vae_np.VAE(30, [8], 3, seed=1, init="default")
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert a.init == "default" and a.config["init"] == "default"


@pytest.mark.parametrize("init", ["he", "glorot"])
def test_mlp_init_applies_to_every_layer(init):
    mlp = MLP([50, 40, 30], "tanh", rng=np.random.default_rng(0), init=init)
    rng = np.random.default_rng(0)
    for i, (a, b) in enumerate([(50, 40), (40, 30)]):
        std = np.sqrt(2 / a) if init == "he" else np.sqrt(2 / (a + b))
        expected = (rng.standard_normal((a, b)) * std).astype(np.float32)
        np.testing.assert_array_equal(mlp.params[f"{2 * i}.W"], expected)


def test_vae_normal_init_reaches_both_networks_and_is_stored():
    model = vae_np.VAE(784, [500], 3, activation="tanh", init="normal", init_std=0.01, seed=0)
    every = np.concatenate([p.ravel() for p in model.params.values()])
    assert abs(every.std() - 0.01) < 1e-4 and abs(every.mean()) < 1e-4
    assert model.config["init"] == "normal" and model.config["init_std"] == 0.01
    again = vae_np.VAE(**model.config)
    for name in model.params:
        np.testing.assert_array_equal(model.params[name], again.params[name])


def test_checkpoint_keeps_the_init(tmp_path):
    model = vae_np.VAE(12, [6], 2, init="normal", init_std=0.2, seed=4)
    path = tmp_path / "m.npz"
    vae_np.save(model, path)
    loaded = vae_np.load(path)
    assert loaded.config == model.config and loaded.init_std == 0.2


def test_pickled_models_without_init_still_load():
    import pickle
    model = vae_np.VAE(12, [6], 2)
    state = model.__dict__.copy()
    del state["init"], state["init_std"]
    blank = vae_np.VAE.__new__(vae_np.VAE)
    blank.__setstate__(state)
    assert blank.config["init"] == "default"
    buf = _io.BytesIO()
    pickle.dump(model, buf)
    assert pickle.loads(buf.getvalue()).config == model.config


def test_training_from_the_normal_init_works():
    X = vae_np.load_mnist(binarize_method="stochastic").X_train[:500]
    model = vae_np.VAE(784, [50], 3, activation="tanh", init="normal", seed=0)
    hist = vae_np.fit(model, X, 3, 100, vae_np.Adagrad(0.02), seed=0, progress=False,
                      weight_decay=1 / len(X))
    assert hist.train_loss[-1] < hist.train_loss[0] - 50


@pytest.mark.parametrize("kwargs, name", [
    ({"init": "uniform"}, "init"), ({"init": "Normal"}, "init"), ({"init": None}, "init"),
    ({"init_std": 0.0}, "init_std"), ({"init_std": -0.01}, "init_std"),
    ({"init_std": float("nan")}, "init_std"), ({"init_std": "0.01"}, "init_std")])
def test_init_arguments_are_validated(kwargs, name):
    with pytest.raises(vae_np.InvalidParameterError, match=name):
        vae_np.VAE(10, [4], 2, **kwargs)
    with pytest.raises(vae_np.InvalidParameterError, match=name):
        MLP([10, 4], **kwargs)
    lin = {k: ("default" if v == "uniform" else v) for k, v in kwargs.items()}   # not Linear's
    with pytest.raises(vae_np.InvalidParameterError, match=name):
        Linear(10, 4, np.random.default_rng(0), **lin)
