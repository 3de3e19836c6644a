"""Objects of the wrong kind get a message that says what was expected.

``fit`` or ``save`` given a PCA, a layer's ``backward`` before its ``forward``, an Autoencoder
where a VAE is needed, a class where an instance is needed, a list where an array is needed:
each is an error that names the argument and the kind of object it must be, never an
``AttributeError`` from deep inside.
"""
import numpy as np
import pytest

import vae_np
from vae_np import analysis, fast, prob
from vae_np.nn import gradcheck, layers
from vae_np.prob import estimators

X6 = np.random.default_rng(0).random((8, 6)).astype(np.float32)
EPS2 = np.zeros((8, 2), np.float32)
PCA = prob.PCA(2)
AE = vae_np.Autoencoder(6, [5], 2, seed=0)


def _vae():
    return vae_np.VAE(6, [5], 2, seed=0)


@pytest.mark.parametrize("call, name, expected", [
    (lambda: vae_np.fit(PCA, X6, 1, 4, vae_np.Adam(), seed=0), "model", "vae_np.VAE or"),
    (lambda: vae_np.fit(_vae(), X6, 1, 4, "adam", seed=0), "optimizer", "optimizer instance"),
    (lambda: vae_np.fit(_vae(), X6, 1, 4, vae_np.Adam, seed=0), "optimizer", "not the class"),
    (lambda: vae_np.train.make_step(PCA, vae_np.Adam()), "model", "vae_np.VAE or"),
    (lambda: vae_np.train.make_step(_vae(), {"lr": 1}), "optimizer", "optimizer instance"),
    (lambda: vae_np.save(PCA, "m.npz"), "model", "the models load can rebuild"),
    (lambda: vae_np.save(layers.MLP([3, 2]), "m.npz"), "model", "the models load can rebuild"),
    (lambda: vae_np.save(_vae(), 123), "path", "os.PathLike"),
    (lambda: vae_np.load(None), "path", "os.PathLike"),
    (lambda: estimators.sgvb_terms(AE, X6, EPS2), "model", "vae_np.VAE"),
    (lambda: estimators.sgvb_loss_and_grads(AE, X6, EPS2), "model", "vae_np.VAE"),
    (lambda: estimators.sgvb_variance(AE, X6, 2, np.random.default_rng(0)), "model",
     "vae_np.VAE"),
    (lambda: analysis.metrics.encode_all(AE, X6), "model", "posterior variance"),
    (lambda: analysis.metrics.rate_distortion(PCA, X6, np.random.default_rng(0)), "model",
     "vae_np.VAE"),
    (lambda: analysis.sampling.latent_codes(PCA, X6), "model", "vae_np.VAE or"),
    (lambda: analysis.sampling.interpolate_latent(PCA, X6[0], X6[1], 3), "model", "vae_np.VAE"),
    (lambda: gradcheck.check_layer(PCA, X6, np.random.default_rng(0)), "layer", "vae_np layer"),
    (lambda: gradcheck.check_model(PCA, X6, EPS2), "model", "vae_np.VAE or"),
    (lambda: gradcheck.numerical_gradient(lambda: 0.0, [1.0, 2.0]), "x", "a NumPy array"),
    (lambda: gradcheck.max_error({}), "errors", "non-empty dict"),
    (lambda: gradcheck.max_error([0.1]), "errors", "non-empty dict"),
    (lambda: fast.step.loss_and_grads(PCA, X6, EPS2), "model", "vae_np.VAE or"),
    (lambda: fast.step.clear_workspaces("model"), "model", "vae_np.VAE or"),
    (lambda: fast.flat.optimizer_step("adam", {}, {}), "optimizer", "optimizer instance"),
    (lambda: fast.flat.tiled_base(np.zeros(3)), "arrays", "a list of NumPy arrays"),
    (lambda: fast.flat.tiled_base([[1.0]]), "arrays", "a list of NumPy arrays"),
    (lambda: fast.flat.all_finite(np.array(["a"])), "a", "an array of numbers"),
    (lambda: vae_np.plotting.plot_manifold(PCA), "model", "vae_np.VAE or"),
    (lambda: vae_np.plotting.plot_mixture_1d(PCA, np.zeros(3)), "gmm", "GaussianMixture"),
    (lambda: vae_np.plotting.plot_history([1, 2, 3]), "history", "vae_np.History"),
])
def test_wrong_kind_of_object(call, name, expected):
    with pytest.raises(TypeError) as info:
        call()
    msg = str(info.value)
    assert f"'{name}'" in msg and expected in msg, msg


@pytest.mark.parametrize("layer", [layers.Linear(3, 2, np.random.default_rng(0)), layers.ReLU(),
                                   layers.Tanh(), layers.MLP([3, 4, 2])])
def test_backward_before_forward_says_so(layer):
    with pytest.raises(RuntimeError, match=r"backward was called before .*forward; call "
                                           r"forward\(X\) first"):
        layer.backward(np.ones((2, 2)))


@pytest.mark.parametrize("layer", [layers.Linear(3, 2, np.random.default_rng(0)), layers.ReLU()])
def test_backward_with_a_gradient_of_the_wrong_shape(layer):
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"backward expects dY of shape \(4, [23]\)"):
        layer.backward(np.ones((1, 2)))       # would broadcast silently for an activation


def test_lists_where_arrays_are_needed_are_converted_or_named():
    lin = layers.Linear(3, 2, np.random.default_rng(0), dtype=np.float64)
    np.testing.assert_array_equal(lin.forward([[1.0, 2.0, 3.0]]), lin.forward(np.array([[1.0, 2, 3]])))
    np.testing.assert_array_equal(layers.Softplus().forward([[0.0]]), [[np.log(2)]])
    assert layers.Sigmoid().forward([[0.0]])[0, 0] == 0.5
    with pytest.raises(ValueError, match="X could not be made into a NumPy array"):
        lin.forward([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="X has complex values"):
        lin.forward([[1j, 2.0, 3.0]])
    m = _vae()
    np.testing.assert_array_equal(m.reconstruct(X6.tolist()), m.reconstruct(X6))
    with pytest.raises(ValueError, match="X could not be made into a NumPy array"):
        m.encode([[0.5] * 6, [0.5] * 5])


def test_an_unfitted_mixture_or_pca_says_to_fit_first():
    with pytest.raises(prob.gmm.NotFittedError, match=r"call fit\(X\) first"):
        vae_np.plotting.plot_mixture_1d(prob.GaussianMixture(2), np.zeros(3))
    with pytest.raises(RuntimeError, match="not fitted"):
        PCA.transform(np.zeros((2, 3)))
