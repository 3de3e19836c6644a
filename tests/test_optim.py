"""Optimizer update rules against steps computed by hand."""
import copy
import pickle

import numpy as np
import pytest

import vae_np
from vae_np import _flat, kernels
from vae_np.optim import SGD, Adagrad, Adam
from vae_np.train import _first_nonfinite


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with kernels.backend(request.param):
        yield request.param


def _pg(dtype=np.float64):
    return ({"w": np.array([1.0, -2.0, 3.0], dtype)}, {"w": np.array([0.5, 0.1, -1.0], dtype)})


def test_sgd_plain_and_momentum(backend):
    params, grads = _pg()
    SGD(lr=0.1).step(params, grads)
    np.testing.assert_allclose(params["w"], [0.95, -2.01, 3.1])
    params, grads = _pg()
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(params, grads)            # v1 = -0.1 g
    opt.step(params, grads)            # v2 = 0.9 v1 - 0.1 g = -0.19 g
    np.testing.assert_allclose(params["w"], np.array([1.0, -2.0, 3.0]) - 0.29 * grads["w"])


def test_adagrad_two_steps(backend):
    params, grads = _pg()
    opt = Adagrad(lr=0.5, eps=1e-8)
    opt.step(params, grads)
    g = grads["w"]
    expected = np.array([1.0, -2.0, 3.0]) - 0.5 * g / (np.sqrt(g ** 2) + 1e-8)
    np.testing.assert_allclose(params["w"], expected)
    opt.step(params, grads)
    expected -= 0.5 * g / (np.sqrt(2 * g ** 2) + 1e-8)
    np.testing.assert_allclose(params["w"], expected)


def test_adam_matches_algorithm_1_of_kingma_and_ba(backend):
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


def test_float32_updates_stay_float32_and_paths_agree():
    rng = np.random.default_rng(1)
    g = rng.standard_normal(1000).astype(np.float32)
    results = {}
    for name in ("numba", "numpy"):
        with kernels.backend(name):
            params = {"w": np.ones(1000, np.float32)}
            opt = Adam(lr=1e-3)
            for _ in range(3):
                opt.step(params, {"w": g})
            results[name] = params["w"]
            assert params["w"].dtype == np.float32
    np.testing.assert_allclose(results["numba"], results["numpy"], rtol=1e-6, atol=1e-7)


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        Adam(lr=0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
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
    flat_p = _flat.tiled_base(list(model.params.values()))
    flat_g = _flat.tiled_base(list(model.grads.values()))
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
    assert _flat.tiled_base([model.params[k] for k in names[::2]]) is None
    assert _flat.tiled_base([model.params[k] for k in names[::-1]]) is None
    assert _flat.tiled_base([p.copy() for p in model.params.values()]) is None
    assert _flat.tiled_base([]) is None
    # a deep copy or an unpickled model is packed again, with its own buffers
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        flat_c = _flat.tiled_base(list(clone.params.values()))
        assert flat_c is not None and not np.shares_memory(flat_c, flat_p)
        np.testing.assert_array_equal(flat_c, flat_p)
        assert _flat.tiled_base(list(clone.grads.values())) is not None
        assert clone.params["enc.0.W"] is clone.encoder.layers[0].params["W"]


def _separate(d):
    """The same values in arrays of their own: the optimizer's per-array path."""
    return {k: v.copy() for k, v in d.items()}


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adagrad(0.05),
                                  lambda: Adam(1e-2)])
def test_flat_update_equals_the_per_array_update(backend, make):
    """One kernel call over the flat buffer gives exactly the per-array results and state."""
    rng = np.random.default_rng(0)
    model = vae_np.VAE(9, (6,), 2, seed=0)
    sep_params, sep_grads = _separate(model.params), _separate(model.grads)
    opt_flat, opt_sep = make(), make()
    for step in range(3):
        for k in model.grads:
            model.grads[k][...] = rng.standard_normal(model.grads[k].shape)
            sep_grads[k][...] = model.grads[k]
        opt_flat.step(model.params, model.grads)
        opt_sep.step(sep_params, sep_grads)
        for k in model.params:
            np.testing.assert_array_equal(model.params[k], sep_params[k], err_msg=k)
            for a, b in zip(opt_flat.state[k], opt_sep.state[k]):
                np.testing.assert_array_equal(a, b, err_msg=k)
    if kernels.get_backend() == "numba":    # the flat path ran: the state is in flat buffers
        flat_m = opt_flat._flat_state[tuple(model.params)][0][0]
        assert all(np.shares_memory(opt_flat.state[k][0], flat_m) for k in model.params)
    else:                                   # the NumPy reference stays per array
        assert not opt_flat._flat_state
    # switching to the flat path later carries the per-array state over
    opt_sep.step(model.params, model.grads)
    opt_flat.step(sep_params, sep_grads)             # and back, on the state's views
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], sep_params[k], err_msg=k)


@pytest.mark.parametrize("resume", [copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))])
def test_a_copied_optimizer_resumes_exactly(backend, resume):
    """Copies keep ``state`` (the flat caches are rebuilt from it), also across backends."""
    rng = np.random.default_rng(1)
    model = vae_np.VAE(9, (6,), 2, seed=0)
    opt = Adam(1e-2)
    grads = [{k: rng.standard_normal(g.shape).astype(g.dtype) for k, g in model.grads.items()}
             for _ in range(6)]

    def step(o, m, g, which):
        for k in g:
            m.grads[k][...] = g[k]
        with kernels.backend(which):
            o.step(m.params, m.grads)

    for g in grads[:2]:
        step(opt, model, g, backend)
    twin, twin_opt = copy.deepcopy(model), resume(opt)
    for i, g in enumerate(grads[2:]):                # one step on the other backend midway
        which = ("numpy" if backend == "numba" else "numba") if i == 1 else backend
        step(opt, model, g, which)
        step(twin_opt, twin, g, which)
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], twin.params[k], err_msg=k)
        for a, b in zip(opt.state[k], twin_opt.state[k]):
            np.testing.assert_array_equal(a, b, err_msg=k)
    assert len(pickle.dumps(opt)) < 2 * model.n_params * 4 + 10_000   # m, v and little else
    restored = Adam.__new__(Adam)       # what unpickling gives for state saved without caches
    restored.__setstate__(dict(lr=opt.lr, t=opt.t, b1=opt.b1, b2=opt.b2, eps=opt.eps,
                               state={k: tuple(a.copy() for a in v)
                                      for k, v in opt.state.items()}))
    restored.step(twin.params, twin.grads)
    opt.step(model.params, model.grads)
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], twin.params[k], err_msg=k)


def test_optimizer_refuses_state_of_another_shape(backend):
    """Same names, other shapes: an error, never a kernel running off the end of an array."""
    small, big = vae_np.VAE(9, (6,), 2, seed=0), vae_np.VAE(9, (7,), 2, seed=0)
    for params, grads in [(small.params, small.grads),
                          (_separate(small.params), _separate(small.grads))]:
        for other in [(big.params, big.grads), (_separate(big.params), _separate(big.grads))]:
            opt = Adam(1e-3)
            opt.step(params, grads)
            with pytest.raises(ValueError, match="use a new optimizer"):
                opt.step(*other)


def test_the_flat_finite_check_names_the_bad_gradient():
    model = vae_np.VAE(9, (6,), 2, seed=0)
    flat = _flat.tiled_base(list(model.grads.values()))
    assert _first_nonfinite(0.5, model.grads, flat) is None
    model.grads["dec.2.b"][1] = np.nan
    assert _first_nonfinite(0.5, model.grads, flat) == "the gradient of 'dec.2.b'"
    assert _first_nonfinite(0.5, model.grads) == "the gradient of 'dec.2.b'"
    assert _first_nonfinite(float("inf"), model.grads, flat) == "the loss (inf)"
