"""``params`` and ``grads`` (of a model, an MLP, a layer) are read-only mappings of live arrays.

Assigning a new array to ``model.params[name]`` used to be accepted and silently ignored by the
forward pass (the layers compute with their own arrays) while ``save`` wrote it. It now raises a
``TypeError`` saying to write in place; in-place updates (``[...] =``, ``+=``) keep working and
are what the forward pass, the gradients and ``save`` all see.
"""
import copy
import pickle

import numpy as np
import pytest

import vae_np
from vae_np.nn import layers
from vae_np.nn.params import ParamDict


@pytest.fixture(params=["VAE", "Autoencoder"])
def model(request):
    return getattr(vae_np, request.param)(6, [5], 2, seed=0, dtype=np.float64)


def test_assigning_a_new_array_fails_loudly(model):
    name = "enc.0.W"
    for mapping, what in ((model.params, "model.params"), (model.grads, "model.grads")):
        with pytest.raises(TypeError, match=rf"{what}\['enc.0.W'\] = \.\.\. .*in place.*"
                                            rf"{what}\['enc.0.W'\]\[\.\.\.\] = new_values"):
            mapping[name] = np.zeros((6, 5))
        with pytest.raises(TypeError, match="read-only"):
            del mapping[name]
    assert isinstance(model.params, ParamDict)
    for change in (lambda d: d.update({}), lambda d: d.pop(name), lambda d: d.clear(),
                   lambda d: d.setdefault("x", 1), lambda d: d.popitem()):
        with pytest.raises(TypeError, match="model.params is read-only"):
            change(model.params)
    assert len(model.params) == len(model.grads) == 8


def test_the_mlp_and_layer_mappings_are_read_only_too(model):
    with pytest.raises(TypeError, match=r"MLP.params\['0.W'\]"):
        model.encoder.params["0.W"] = np.zeros((6, 5))
    with pytest.raises(TypeError, match=r"Linear.params\['W'\]"):
        model.encoder.layers[0].params["W"] = np.zeros((6, 5))
    with pytest.raises(TypeError, match=r"Linear.grads\['b'\]"):
        layers.Linear(3, 2, np.random.default_rng(0)).grads["b"] = np.zeros(2)


def test_in_place_writes_reach_the_forward_pass_and_save(model, tmp_path):
    X = np.random.default_rng(0).random((3, 6))
    before = model.reconstruct(X)
    model.params["dec.2.b"][...] = 0.5                 # the documented way
    model.params["dec.2.W"] += 0.1                     # += rebinds to the same array: allowed
    after = model.reconstruct(X)
    assert not np.allclose(before, after)
    assert np.all(model.decoder.layers[-1].params["b"] == 0.5)
    loaded = vae_np.load(vae_np.save(model, tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.reconstruct(X), after)


def test_reading_works_like_a_dict(model):
    d = dict(model.params)
    assert list(d) == list(model.params) == list(model.params.keys())
    assert {**model.params}.keys() == d.keys() and len(model.params) == len(d)
    assert "enc.0.W" in model.params and "nope" not in model.params and [] not in model.params
    assert model.params.get("nope") is None
    assert all(model.params[k] is v for k, v in model.params.items())
    with pytest.raises(KeyError, match="'nope' is not a name in model.params; the names are"):
        model.params["nope"]
    assert "array(shape=(6, 5)" in repr(model.params)


def test_copies_and_pickles_keep_working_mappings(model):
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert isinstance(clone.params, ParamDict)
        assert clone.params["enc.0.W"] is clone.encoder.layers[0].params["W"]
        with pytest.raises(TypeError):
            clone.params["enc.0.W"] = np.zeros((6, 5))


def test_training_and_gradient_checks_never_assign():
    """fit (both paths), the reference optimizers and the gradient check only write in place."""
    X = np.random.default_rng(0).random((16, 6))
    for backend in vae_np.fast.BACKENDS:
        with vae_np.fast.backend(backend):
            m = vae_np.VAE(6, [5], 2, seed=0, dtype=np.float64)
            vae_np.fit(m, X, 2, 8, vae_np.Adam(1e-2), seed=0, progress=False)
    m = vae_np.VAE(6, [5], 2, seed=0, dtype=np.float64)
    for opt in (vae_np.SGD(0.1, momentum=0.5), vae_np.Adagrad(0.1), vae_np.Adam(0.1)):
        m.loss_and_grads(X, np.zeros((16, 2)))
        opt.step(m.params, m.grads)
    errors = vae_np.nn.gradcheck.check_model(m, X[:3], np.zeros((3, 2)))
    assert max(errors.values()) < 1e-6
