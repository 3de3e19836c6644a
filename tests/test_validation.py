"""Bad input to the public API fails early with a clear message (what was wrong, how to fix it).

Every case asserts the exception type *and* a fragment of the message, so a test would fail if
the check disappeared and some later NumPy error (or silent garbage) took its place.
"""
import numpy as np
import pytest

import vae_np
from vae_np import SGD, VAE, Adagrad, Adam, Autoencoder, fit, load_mnist
from vae_np._validation import check_array, check_positive_float, check_positive_int, check_rng
from vae_np.data.mnist import binarize
from vae_np.data.moons import moon_image


@pytest.fixture
def model():
    return VAE(6, [5], 2, seed=0)


@pytest.fixture
def X():
    return np.random.default_rng(0).random((8, 6)).astype(np.float32)


# ------------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize("value", [0, -3, 2.5, True, "4", None, np.float64(3.0)])
def test_check_positive_int_rejects(value):
    with pytest.raises(ValueError, match=r"The 'n' parameter must be an int in the range \[1, inf\)"):
        check_positive_int(value, "n")


def test_check_positive_int_accepts_numpy_ints():
    assert check_positive_int(np.int64(3), "n") == 3


@pytest.mark.parametrize("value", [0, -1e-3, np.nan, np.inf, -np.inf, True, "0.1", None])
def test_check_positive_float_rejects(value):
    with pytest.raises(ValueError, match=r"The 'lr' parameter must be a float in the range \(0.0, inf\)"):
        check_positive_float(value, "lr")


def test_check_array_messages():
    with pytest.raises(ValueError, match=r"must be 2-D, got shape \(2, 3, 4\).*reshape"):
        check_array(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="must be 2-D"):
        check_array(np.zeros(5))
    with pytest.raises(ValueError, match="is empty"):
        check_array(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="must have 4 features per row"):
        check_array(np.zeros((2, 3)), n_features=4)
    with pytest.raises(ValueError, match="numeric array"):
        check_array(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="numeric array"):
        check_array(np.array([[1, None]], dtype=object))
    Xn = np.zeros((3, 2))
    Xn[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(1, 1\)\)"):
        check_array(Xn)
    with pytest.raises(ValueError, match="NaN or inf"):
        check_array(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match=r"values in \[-0.5, 1\].*Bernoulli.*X / 255"):
        check_array(np.array([[-0.5, 1.0]]), unit_interval=True)
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        check_array(np.array([[0, 255]], dtype=np.uint8), unit_interval=True)


def test_check_array_does_not_clip_or_copy_needlessly():
    A = np.array([[0.0, 1.0]], dtype=np.float32)
    assert check_array(A, dtype=np.float32, unit_interval=True) is A


@pytest.mark.parametrize("rng", [0, None, np.random.RandomState(0), "seed"])
def test_check_rng_rejects(rng):
    with pytest.raises(TypeError, match=r"np.random.default_rng\(seed\)"):
        check_rng(rng)


# ------------------------------------------------------------------------------------ models
@pytest.mark.parametrize("cls", [VAE, Autoencoder])
@pytest.mark.parametrize("kwargs, match", [
    (dict(input_dim=0), r"'input_dim' parameter of \w+ must be an int in the range \[1, inf\)"),
    (dict(input_dim=6.0), r"'input_dim' parameter .*Got 6.0 \(a float\). Write it as an int \(6\)"),
    (dict(latent_dim=0), r"'latent_dim' parameter of \w+ must be an int .*Got 0 \(an int\)"),
    (dict(latent_dim=-2), r"'latent_dim' parameter of \w+ must be an int in the range \[1, inf\)"),
    (dict(hidden_dims=[4, 0]), r"'hidden_dims' parameter .*Got \[4, 0\] \(a list\), whose entry 1 is 0"),
    (dict(hidden_dims=400), r"'hidden_dims' parameter .*Got 400 \(an int\). For one layer write \[400\]"),
    (dict(activation="gelu"), r"'activation' parameter of \w+ must be a str among \{'identity', 'relu'"),
    (dict(activation="ReLU"), r"Got 'ReLU' \(a str\). Names are lower-case: 'relu'"),
    (dict(likelihood="poisson"), r"'likelihood' parameter .*\{'bernoulli', 'gaussian'\}. Got 'poisson'"),
    (dict(obs_std=0.0), r"'obs_std' parameter of \w+ must be a float in the range \(0.0, inf\)"),
    (dict(obs_std=np.nan), r"'obs_std' parameter of \w+ must be a float in the range \(0.0, inf\)"),
    (dict(dtype=np.int32), "'dtype' parameter of \\w+ must be np.float32 or np.float64"),
])
def test_model_constructor_rejects(cls, kwargs, match):
    args = dict(input_dim=6, hidden_dims=[5], latent_dim=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cls(**args)


def test_autoencoder_rejects_negative_code_noise():
    with pytest.raises(ValueError, match=(r"'code_noise' parameter of Autoencoder must be a"
                                          r" float in the range \[0.0, inf\)")):
        Autoencoder(6, [5], 2, code_noise=-0.1)


def test_empty_hidden_dims_is_allowed():
    assert VAE(6, [], 2).n_params > 0


def test_loss_and_grads_rejects_bad_data(model, X):
    eps = np.zeros((8, 2), np.float32)
    with pytest.raises(ValueError, match="must have 6 features"):
        model.loss_and_grads(X[:, :5], eps)
    with pytest.raises(ValueError, match="must be 2-D.*reshape"):
        model.loss_and_grads(X.reshape(8, 2, 3), eps)
    with pytest.raises(ValueError, match="Bernoulli likelihood needs"):
        model.loss_and_grads(X * 255, eps)
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at index \(3, 4\)\)"):
        model.loss_and_grads(bad, eps)
    with pytest.raises(ValueError, match="eps must have 2 features"):
        model.loss_and_grads(X, np.zeros((8, 3), np.float32))
    with pytest.raises(ValueError, match="eps must have 8 rows like X, got 7"):
        model.loss_and_grads(X, eps[:7])
    with pytest.raises(ValueError, match="eps contains NaN"):
        model.loss_and_grads(X, eps + np.nan)
    with pytest.raises(ValueError, match=(r"'beta' parameter of VAE.loss_and_grads must"
                                          r" be a float in the range \[0.0")):
        model.loss_and_grads(X, eps, beta=-1)


def test_gaussian_likelihood_accepts_values_outside_unit_interval(X):
    m = VAE(6, [5], 2, likelihood="gaussian")
    loss, _ = m.loss_and_grads(X * 10 - 3, np.zeros((8, 2), np.float32))
    assert np.isfinite(loss)


def test_model_methods_validate(model, X):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="Z must have 2 features"):
        model.decode(np.zeros((3, 5)))
    positive_int = r"must be an int in the range \[1, inf\)"
    generator = "must be a numpy.random.Generator"
    with pytest.raises(ValueError, match="'n' parameter of VAE.sample " + positive_int):
        model.sample(0, rng)
    with pytest.raises(TypeError, match="'rng' parameter of VAE.sample " + generator):
        model.sample(3, 0)
    with pytest.raises(ValueError, match="'n_samples' parameter of VAE.elbo " + positive_int):
        model.elbo(X, rng, n_samples=0)
    with pytest.raises(TypeError, match="'rng' parameter of VAE.elbo " + generator):
        model.elbo(X, None)
    with pytest.raises(ValueError, match="'k' parameter of VAE.log_likelihood " + positive_int):
        model.log_likelihood(X, rng, k=0)
    with pytest.raises(TypeError, match="'rng' parameter of VAE.log_likelihood " + generator):
        model.log_likelihood(X, 1)
    with pytest.raises(ValueError, match="'batch_size' parameter of VAE.elbo " + positive_int):
        model.elbo(X, rng, batch_size=0)
    with pytest.raises(ValueError, match="must have 6 features"):
        model.encode(np.zeros((2, 7)))
    with pytest.raises(ValueError, match="'batch_size' parameter of Autoencoder.loss_terms"):
        Autoencoder(6, [5], 2).loss_terms(X, batch_size=0)


# ------------------------------------------------------------------------------------ training
@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), r"'batch_size' parameter of fit must be an int in the range \[1, inf\)\. Got 0"),
    (dict(batch_size=-8), r"'batch_size' parameter of fit must be an int in the range \[1, inf\)"),
    (dict(batch_size=2.5), r"'batch_size' parameter of fit must be an int .*Got 2.5 \(a float\)"),
    (dict(epochs=0), r"'epochs' parameter of fit must be an int in the range \[1, inf\)"),
    (dict(beta=-0.5), r"'beta' parameter of fit must be a float in the range \[0.0, inf\)"),
    (dict(beta=np.nan), r"'beta' parameter of fit must be a float in the range \[0.0, inf\)"),
])
def test_fit_rejects_bad_settings(model, X, kwargs, match):
    args = dict(epochs=1, batch_size=4, optimizer=Adam(1e-3), seed=0, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fit(model, X, **args)


def test_fit_rejects_bad_data_and_optimizer(model, X):
    args = dict(epochs=1, batch_size=4, seed=0, progress=False)
    with pytest.raises(ValueError, match="X has values in .*Bernoulli"):
        fit(model, X * 255, optimizer=Adam(), **args)
    with pytest.raises(ValueError, match="X_val must have 6 features"):
        fit(model, X, optimizer=Adam(), X_val=X[:, :3], **args)
    with pytest.raises(ValueError, match="dynamic_binarization needs likelihood='bernoulli'"):
        fit(VAE(6, [5], 2, likelihood="gaussian"), X, optimizer=Adam(),
            dynamic_binarization=True, **args)
    with pytest.raises(TypeError, match="'optimizer' parameter of fit must be a vae_np optimizer.*Adam"):
        fit(model, X, optimizer=1e-3, **args)
    with pytest.raises(TypeError, match="'optimizer' parameter of fit .*Pass an instance, not the class"):
        fit(model, X, optimizer=Adam, **args)     # the class, not an instance


@pytest.mark.parametrize("make", [lambda lr: SGD(lr), lambda lr: Adagrad(lr),
                                  lambda lr: Adam(lr)])
@pytest.mark.parametrize("lr", [0, -1e-3, np.nan, np.inf])
def test_optimizers_reject_bad_learning_rates(make, lr):
    with pytest.raises(ValueError, match=r"'lr' parameter of \w+ must be a float in the range \(0.0, inf\)"):
        make(lr)


def test_optimizers_reject_bad_hyperparameters():
    with pytest.raises(ValueError, match=(r"'momentum' parameter of SGD must be a float"
                                          r" in the range \[0.0, 1.0\)")):
        SGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match=(r"'betas\[1\]' parameter of Adam must be a"
                                          r" float in the range \[0.0, 1.0\)")):
        Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=(r"'eps' parameter of Adagrad must be a float"
                                          r" in the range \(0.0, inf\)")):
        Adagrad(0.1, eps=0)


# ------------------------------------------------------------------------------------ data
def test_load_mnist_validates_arguments():
    with pytest.raises(ValueError, match="'source' parameter of load_mnist .*Got 'fashion'"):
        load_mnist(source="fashion")
    with pytest.raises(ValueError, match="'test_size' parameter of load_mnist must be an int"):
        load_mnist(test_size=0)
    with pytest.raises(ValueError, match="multiple of 10"):
        load_mnist(test_size=15)
    with pytest.raises(ValueError, match="'binarize_method' parameter of load_mnist .*Got 'otsu'"):
        load_mnist(binarize_method="otsu")


def test_binarize_validates():
    with pytest.raises(ValueError, match="needs rng=np.random.default_rng"):
        binarize(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="'method' parameter of binarize .*Got 'round'"):
        binarize(np.zeros((2, 2)), method="round")


def test_make_moons_validates():
    with pytest.raises(ValueError, match="'n' parameter of make_moons must be an int"):
        vae_np.make_moons(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=(r"'phase' parameter of moon_image must be a"
                                          r" float in the range \[0.0, 1.0\]")):
        moon_image(1.5)


# ------------------------------------------------------------------------------- training guard
class Recording:
    """Mixin for an optimizer: keeps a copy of the parameters after each completed update."""

    def step(self, params, grads):
        super().step(params, grads)
        self.after = {k: v.copy() for k, v in params.items()}


class RecordingAdam(Recording, Adam):
    pass


class RecordingSGD(Recording, SGD):
    pass


@pytest.fixture(params=vae_np.fast.BACKENDS)
def wrap_step(request, monkeypatch):
    """``wrap_step(model, wrapper)``: ``fit`` then computes each step's loss and gradients as
    ``wrapper(loss_and_grads, Xb, eps, beta)``, on the fast path and on the reference path.

    ``fit`` takes the fused ``vae_np.fast.step.loss_and_grads`` with the ``"numba"`` backend and
    ``model.loss_and_grads`` with ``"numpy"`` (also what ``"numba"`` means under
    ``NUMBA_DISABLE_JIT=1``); both are wrapped, and each test counts the wrapper's calls, so a
    step computed some other way would make it fail.
    """
    def wrap(model, wrapper):
        reference, fused = model.loss_and_grads, vae_np.fast.step.loss_and_grads

        def fused_wrapped(m, Xb, eps, beta=1.0):
            if m is not model:
                return fused(m, Xb, eps, beta)
            out = wrapper(lambda Xb_, eps_, beta_: fused(m, Xb_, eps_, beta_), Xb, eps, beta)
            # the fused step counted the NaN/inf of the gradients it wrote, before the wrapper
            # changed them: "not counted", so that fit checks them itself
            vae_np.fast.finite.record(m, None)
            return out

        monkeypatch.setattr(model, "loss_and_grads",
                            lambda Xb, eps, beta=1.0: wrapper(reference, Xb, eps, beta))
        monkeypatch.setattr(vae_np.fast.step, "loss_and_grads", fused_wrapped)

    with vae_np.fast.backend(request.param):
        yield wrap


def test_guard_stops_on_nan_loss_in_a_later_epoch_and_keeps_last_finite_params(X, wrap_step):
    model = VAE(6, [5], 2, seed=0)
    Xs = np.tile(X, (2, 1))                       # 16 rows, batch 4: 4 steps per epoch
    calls = dict(n=0)

    def nan_loss_on_call_6(loss_and_grads, Xb, eps, beta):      # epoch 2, step 2
        loss, grads = loss_and_grads(Xb, eps, beta)
        calls["n"] += 1
        return (float("nan") if calls["n"] == 6 else loss), grads

    wrap_step(model, nan_loss_on_call_6)
    opt = RecordingAdam(1e-2)
    with pytest.raises(vae_np.train.NonFiniteLossError,
                       match=r"the loss \(nan\) became NaN/inf at epoch 2, step 2 of 4"):
        fit(model, Xs, epochs=3, batch_size=4, optimizer=opt, seed=0, progress=False)
    assert calls["n"] == 6 and opt.t == 5           # the 6th update never happened
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, opt.after[k], err_msg=k)


def test_guard_names_the_first_nonfinite_gradient(X, wrap_step):
    model = VAE(6, [5], 2, seed=0)
    first_enc_W = next(k for k in model.params if k.startswith("enc."))
    calls = dict(n=0)

    def inf_grad(loss_and_grads, Xb, eps, beta):
        loss, grads = loss_and_grads(Xb, eps, beta)
        calls["n"] += 1
        grads[first_enc_W][0, 0] = np.inf
        grads["dec.0.b"][0] = np.nan                  # later in the order: not the one named
        return loss, grads

    wrap_step(model, inf_grad)
    before = {k: v.copy() for k, v in model.params.items()}
    opt = Adam(1e-2)
    with pytest.raises(vae_np.train.NonFiniteLossError,
                       match=rf"the gradient of '{first_enc_W}' became NaN/inf at epoch 1, step 1"):
        fit(model, X, epochs=1, batch_size=4, optimizer=opt, seed=0, progress=False)
    assert calls["n"] == 1
    assert opt.t == 0 and not opt.state             # the optimizer never moved
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_guard_catches_a_real_divergence(X):
    """No monkeypatching: an absurd learning rate makes the loss overflow at the second step."""
    model = VAE(6, [5], 2, likelihood="gaussian", seed=0)
    opt = RecordingSGD(1e20)
    with np.errstate(all="ignore"):
        with pytest.raises(vae_np.train.NonFiniteLossError, match=r"epoch 1, step 2 of 2"):
            fit(model, X, epochs=2, batch_size=4, optimizer=opt, seed=0, progress=False)
    for k, v in model.params.items():
        assert np.isfinite(v).all(), k
        np.testing.assert_array_equal(v, opt.after[k], err_msg=k)


class OverflowingSGD(SGD):
    """An update that overflows (as an absurd learning rate would) at a chosen step."""

    def __init__(self, at_step):
        super().__init__(1e-3)
        self.at_step = at_step

    def step(self, params, grads):
        super().step(params, grads)
        if self.t == self.at_step:
            params["dec.0.W"].flat[0] = np.inf


@pytest.mark.parametrize("at_step, match", [
    (2, r"epoch 1, step 3 of 4, because the previous optimizer update made parameter "
        r"'dec\.0\.W' NaN/inf"),
    (4, r"parameter 'dec\.0\.W' became NaN/inf in the optimizer update of epoch 1, step 4 of 4"),
])
def test_guard_reports_an_overflowing_update_instead_of_returning_garbage(X, at_step, match):
    model = VAE(6, [5], 2, seed=0)
    with np.errstate(all="ignore"):
        with pytest.raises(vae_np.train.NonFiniteLossError, match=match):
            fit(model, np.tile(X, (2, 1)), epochs=2, batch_size=4,
                optimizer=OverflowingSGD(at_step), seed=0, progress=False)


@pytest.mark.parametrize("where", [(0, 0), (1500, 3), (2999, 7)])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_check_array_finds_nan_in_every_block_of_rows(where, value):
    """The NaN/inf test runs a block of rows at a time (no boolean copy of a whole data set);
    a bad value in any block, the last one included, is still found and located."""
    from vae_np._validation import _all_finite_by_blocks, check_array
    X = np.zeros((3000, 8), np.float32)
    assert _all_finite_by_blocks(X, block=1000) and _all_finite_by_blocks(X[:, 0], block=1000)
    X[where] = value
    assert not _all_finite_by_blocks(X, block=1000)
    assert not _all_finite_by_blocks(X[:, where[1]], block=1000)
    with pytest.raises(ValueError, match=rf"NaN or inf \(first at index \({where[0]}, {where[1]}\)\)"):
        check_array(X)
