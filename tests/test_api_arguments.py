"""Every scalar, option, sequence and generator argument of the public API is checked.

A wrong type or a value out of range is an error that names the argument, says what it must be
and what was given (scikit-learn's style, ``vae_np._validation``), raised before any work is
done: no NumPy or Python internals ("SeedSequence expects...", "ufunc 'isfinite' not
supported...", "not enough values to unpack", a KeyError) and no silent truncation (a width of
8.7 is an error, not 8). Each case asserts the exception type and that the message names the
argument.

The table lists, per public callable, which argument takes which kind of value; the bad values
of each kind are at the top. (Data arrays are covered by tests/test_validation.py, plots by
tests/test_plotting_arguments.py, kernels by tests/fast/test_kernel_arguments.py.)
"""
import re

import numpy as np
import pytest

import vae_np
from vae_np import analysis, fast, prob
from vae_np._validation import InvalidParameterError
from vae_np.data import mnist, moons
from vae_np.nn import gradcheck, layers, losses, params
from vae_np.prob import divergences, estimators, gaussians

LEAKS = re.compile(r"SeedSequence|ufunc|unpack|not subscriptable|object is not|has no attribute|"
                   r"unhashable|numba\.core|TypingError|inhomogeneous|could not convert|"
                   r"NoneType' object", re.I)

# kind -> (bad value, exception type) pairs
BAD = {
    "posint": [(0, ValueError), (-3, ValueError), (2.5, TypeError), ("3", TypeError),
               (True, TypeError), (None, TypeError)],
    "seed": [(-1, ValueError), (1.5, TypeError), ("0", TypeError), (None, TypeError)],
    "posfloat": [(0, ValueError), (-1.0, ValueError), (np.nan, ValueError), (np.inf, ValueError),
                 ("1e-3", TypeError), (None, TypeError)],
    "nonneg": [(-0.1, ValueError), (np.inf, ValueError), (np.nan, ValueError),
               ("1e-6", TypeError), (1j, TypeError)],
    "float": [(np.nan, ValueError), ("0", TypeError), ([1.0], TypeError)],
    "unit_open": [(1.0, ValueError), (-0.1, ValueError), ("0.9", TypeError)],
    "bool": [("yes", TypeError), (1, TypeError), (None, TypeError)],
    "option": [("nope", ValueError), (3, TypeError), (None, TypeError), (["relu"], TypeError)],
    "rng": [(None, TypeError), (0, TypeError), (np.random.RandomState(0), TypeError)],
    "rng_optional": [(0, TypeError), ("seed", TypeError)],
    "sizes": [(400, TypeError), ([8.7], TypeError), ([4, 0], ValueError), ("400", TypeError),
              ({4: 1}, TypeError)],
    "callable": [(3, TypeError), ("f", TypeError)],
    "dtype": [(np.int32, ValueError), ("float16", ValueError), ("nonsense", ValueError)],
    "path": [(123, TypeError), (None, TypeError)],
}

X6 = np.random.default_rng(0).random((8, 6)).astype(np.float32)
EPS2 = np.zeros((8, 2), np.float32)
R = np.random.default_rng


def vae(**kw):
    return vae_np.VAE(**{"input_dim": 6, "hidden_dims": [5], "latent_dim": 2, **kw})


def ae(**kw):
    return vae_np.Autoencoder(**{"input_dim": 6, "hidden_dims": [5], "latent_dim": 2, **kw})


MODEL, AE_MODEL = vae(seed=0), ae(seed=0)
MODEL64 = vae(seed=0, dtype=np.float64)
GMM = prob.GaussianMixture(1).set_params([1.0], [[0.0]], [[[1.0]]])
LG = prob.LinearGaussian(np.ones((3, 2)), np.zeros(3), 0.5)


def fit(**kw):
    args = dict(model=vae(), X=X6, epochs=1, batch_size=4, optimizer=vae_np.Adam(), seed=0,
                progress=False)
    return vae_np.fit(**{**args, **kw})


def mnist_args(**kw):
    return vae_np.load_mnist(**kw)


# (label, call with the argument set to v, argument name as it appears in the message, kind)
TABLE = [
    *[(f"{m}.{a}", lambda v, f=f, a=a: f(**{a: v}), a, k) for m, f in (("VAE", vae), ("AE", ae))
      for a, k in [("input_dim", "posint"), ("latent_dim", "posint"), ("hidden_dims", "sizes"),
                   ("activation", "option"), ("likelihood", "option"), ("obs_std", "posfloat"),
                   ("seed", "seed"), ("dtype", "dtype")]],
    ("AE.code_noise", lambda v: ae(code_noise=v), "code_noise", "nonneg"),
    ("VAE.sample.n", lambda v: MODEL.sample(v, R(0)), "n", "posint"),
    ("VAE.sample.rng", lambda v: MODEL.sample(3, v), "rng", "rng"),
    ("VAE.elbo.rng", lambda v: MODEL.elbo(X6, v), "rng", "rng"),
    ("VAE.elbo.n_samples", lambda v: MODEL.elbo(X6, R(0), n_samples=v), "n_samples", "posint"),
    ("VAE.elbo.batch_size", lambda v: MODEL.elbo(X6, R(0), batch_size=v), "batch_size", "posint"),
    ("VAE.loss_terms.rng", lambda v: MODEL.loss_terms(X6, v), "rng", "rng"),
    ("VAE.loss_terms.batch_size", lambda v: MODEL.loss_terms(X6, R(0), batch_size=v),
     "batch_size", "posint"),
    ("VAE.log_likelihood.rng", lambda v: MODEL.log_likelihood(X6, v), "rng", "rng"),
    ("VAE.log_likelihood.k", lambda v: MODEL.log_likelihood(X6, R(0), k=v), "k", "posint"),
    ("VAE.log_likelihood.batch_size",
     lambda v: MODEL.log_likelihood(X6, R(0), k=2, batch_size=v), "batch_size", "posint_or_none"),
    ("VAE.loss_and_grads.beta", lambda v: MODEL.loss_and_grads(X6, EPS2, v), "beta", "nonneg"),
    ("AE.loss_and_grads.beta", lambda v: AE_MODEL.loss_and_grads(X6, None, v), "beta", "nonneg"),
    ("AE.loss_terms.rng", lambda v: AE_MODEL.loss_terms(X6, v), "rng", "rng_optional"),
    ("AE.loss_terms.batch_size", lambda v: AE_MODEL.loss_terms(X6, batch_size=v), "batch_size",
     "posint"),
    # layers
    ("Linear.d_in", lambda v: layers.Linear(v, 3, R(0)), "d_in", "posint"),
    ("Linear.d_out", lambda v: layers.Linear(3, v, R(0)), "d_out", "posint"),
    ("Linear.rng", lambda v: layers.Linear(3, 3, v), "rng", "rng"),
    ("Linear.init", lambda v: layers.Linear(3, 3, R(0), init=v), "init", "option"),
    ("Linear.dtype", lambda v: layers.Linear(3, 3, R(0), dtype=v), "dtype", "dtype"),
    ("MLP.sizes", lambda v: layers.MLP(v), "sizes", "sizes"),
    ("MLP.activation", lambda v: layers.MLP([3, 2], activation=v), "activation", "option"),
    ("MLP.out_activation", lambda v: layers.MLP([3, 2], out_activation=v), "out_activation",
     "option"),
    ("MLP.rng", lambda v: layers.MLP([3, 2], rng=v), "rng", "rng_optional"),
    ("MLP.dtype", lambda v: layers.MLP([3, 2], dtype=v), "dtype", "dtype"),
    ("activation_layer", lambda v: layers.activation_layer(v), "name", "option"),
    # optimizers
    *[(f"{c.__name__}.lr", lambda v, c=c: c(lr=v), "lr", "posfloat")
      for c in (vae_np.SGD, vae_np.Adagrad, vae_np.Adam)],
    ("SGD.momentum", lambda v: vae_np.SGD(momentum=v), "momentum", "unit_open"),
    ("Adagrad.eps", lambda v: vae_np.Adagrad(eps=v), "eps", "posfloat"),
    ("Adam.eps", lambda v: vae_np.Adam(eps=v), "eps", "posfloat"),
    ("Adam.betas[0]", lambda v: vae_np.Adam(betas=(v, 0.999)), "betas[0]", "unit_open"),
    ("Adam.betas[1]", lambda v: vae_np.Adam(betas=(0.9, v)), "betas[1]", "unit_open"),
    # training
    ("fit.epochs", lambda v: fit(epochs=v), "epochs", "posint"),
    ("fit.batch_size", lambda v: fit(batch_size=v), "batch_size", "posint"),
    ("fit.seed", lambda v: fit(seed=v), "seed", "seed"),
    ("fit.beta", lambda v: fit(beta=v), "beta", "nonneg"),
    ("fit.progress", lambda v: fit(progress=v), "progress", "bool"),
    ("fit.dynamic_binarization", lambda v: fit(dynamic_binarization=v), "dynamic_binarization",
     "bool"),
    ("make_step.beta", lambda v: vae_np.train.make_step(vae(), vae_np.Adam(), v), "beta", "nonneg"),
    ("blas_threads", lambda v: vae_np.blas_threads(v), "n", "posint"),
    ("set_backend", lambda v: fast.set_backend(v), "name", "option"),
    ("backend", lambda v: fast.backend(v).__enter__(), "name", "option"),
    # gradient checks
    ("numerical_gradient.h", lambda v: gradcheck.numerical_gradient(lambda: 0.0, np.zeros(2), v),
     "h", "posfloat"),
    ("numerical_gradient.f", lambda v: gradcheck.numerical_gradient(v, np.zeros(2)), "f",
     "callable"),
    ("check_layer.h", lambda v: gradcheck.check_layer(layers.ReLU(), np.ones((2, 3)), R(0), v),
     "h", "posfloat"),
    ("check_layer.rng", lambda v: gradcheck.check_layer(layers.ReLU(), np.ones((2, 3)), v), "rng",
     "rng"),
    ("check_model.h", lambda v: gradcheck.check_model(MODEL64, X6, EPS2, h=v), "h", "posfloat"),
    # losses
    ("logsumexp.axis", lambda v: losses.logsumexp(np.zeros((2, 3)), axis=v), "axis", "axis"),
    ("nll_and_grad.likelihood", lambda v: losses.nll_and_grad(np.zeros((2, 3)), np.zeros((2, 3)),
                                                              v), "likelihood", "option"),
    ("log_likelihood.likelihood", lambda v: losses.log_likelihood(np.zeros((2, 3)),
                                                                  np.zeros((2, 3)), v),
     "likelihood", "option"),
    ("gaussian_nll.obs_std", lambda v: losses.gaussian_nll(np.zeros((2, 3)), np.zeros((2, 3)), v),
     "obs_std", "posfloat"),
    ("empty_staggered.size", lambda v: params.empty_staggered(v, np.float32, 0), "size", "index"),
    ("empty_staggered.slot", lambda v: params.empty_staggered(3, np.float32, v), "slot", "index"),
    # data
    ("load_mnist.source", lambda v: mnist_args(source=v), "source", "option"),
    ("load_mnist.test_size", lambda v: mnist_args(test_size=v), "test_size", "posint"),
    ("load_mnist.seed", lambda v: mnist_args(seed=v), "seed", "seed"),
    ("load_mnist.binarize_method", lambda v: mnist_args(binarize_method=v if v is not None else 7),
     "binarize_method", "option"),
    ("load_mnist.timeout", lambda v: mnist_args(timeout=v), "timeout", "posfloat"),
    ("load_mnist.cache_dir", lambda v: mnist_args(cache_dir=v if v is not None else 5),
     "cache_dir", "path"),
    ("binarize.method", lambda v: mnist.binarize(X6, R(0), v), "method", "option"),
    ("binarize.rng", lambda v: mnist.binarize(X6, v), "rng", "rng"),
    ("make_moons.n", lambda v: vae_np.make_moons(v, R(0), size=8), "n", "posint"),
    ("make_moons.size", lambda v: vae_np.make_moons(2, R(0), size=v), "size", "posint"),
    ("make_moons.rng", lambda v: vae_np.make_moons(2, v, size=8), "rng", "rng"),
    ("make_moons.rng_with_phases", lambda v: vae_np.make_moons(1, v, size=8, phases=[0.5]),
     "rng", "rng_optional"),
    ("moon_image.phase", lambda v: moons.moon_image(v), "phase", "unit_closed"),
    ("moon_image.size", lambda v: moons.moon_image(0.5, size=v), "size", "posint"),
    ("moon_image.radius", lambda v: moons.moon_image(0.5, radius=v), "radius", "posfloat"),
    ("moon_image.supersample", lambda v: moons.moon_image(0.5, supersample=v), "supersample",
     "posint"),
    ("moon_disk_mean.phase", lambda v: moons.moon_disk_mean(v), "phase", "unit_closed"),
    ("moon_lit_fraction.size", lambda v: moons.moon_lit_fraction(np.zeros((1, 64)), size=v),
     "size", "posint_or_none"),
    ("moon_lit_fraction.radius", lambda v: moons.moon_lit_fraction(np.zeros((1, 64)), radius=v),
     "radius", "posfloat"),
    # probability
    ("GaussianMixture.n_components", lambda v: prob.GaussianMixture(v), "n_components", "posint"),
    ("GaussianMixture.max_iter", lambda v: prob.GaussianMixture(2, max_iter=v), "max_iter",
     "posint"),
    ("GaussianMixture.tol", lambda v: prob.GaussianMixture(2, tol=v), "tol", "nonneg"),
    ("GaussianMixture.reg_covar", lambda v: prob.GaussianMixture(2, reg_covar=v), "reg_covar",
     "nonneg"),
    ("GaussianMixture.seed", lambda v: prob.GaussianMixture(2, seed=v), "seed", "seed"),
    ("GaussianMixture.sample.n", lambda v: GMM.sample(v, R(0)), "n", "posint"),
    ("GaussianMixture.sample.rng", lambda v: GMM.sample(3, v), "rng", "rng"),
    ("PCA.n_components", lambda v: prob.PCA(v), "n_components", "posint"),
    ("LinearGaussian.sigma", lambda v: prob.LinearGaussian(np.ones((3, 2)), np.zeros(3), v),
     "sigma", "posfloat"),
    ("LinearGaussian.random.data_dim", lambda v: prob.LinearGaussian.random(v, 2, 0.5, R(0)),
     "data_dim", "posint"),
    ("LinearGaussian.random.latent_dim", lambda v: prob.LinearGaussian.random(3, v, 0.5, R(0)),
     "latent_dim", "posint"),
    ("LinearGaussian.random.rng", lambda v: prob.LinearGaussian.random(3, 2, 0.5, v), "rng",
     "rng"),
    ("LinearGaussian.random.scale", lambda v: prob.LinearGaussian.random(3, 2, 0.5, R(0), v),
     "scale", "posfloat"),
    ("LinearGaussian.sample.n", lambda v: LG.sample(v, R(0)), "n", "posint"),
    ("LinearGaussian.sample.rng", lambda v: LG.sample(3, v), "rng", "rng"),
    ("mvn_sample.n", lambda v: gaussians.mvn_sample(v, np.zeros(2), np.eye(2), R(0)), "n",
     "posint"),
    ("mvn_sample.rng", lambda v: gaussians.mvn_sample(3, np.zeros(2), np.eye(2), v), "rng", "rng"),
    ("kl_quadrature.log_p", lambda v: divergences.kl_quadrature(v, abs), "log_p", "callable"),
    ("kl_quadrature.log_q", lambda v: divergences.kl_quadrature(abs, v), "log_q", "callable"),
    ("kl_quadrature.lower", lambda v: divergences.kl_quadrature(abs, abs, lower=v), "lower",
     "float"),
    ("mean_and_stderr.axis", lambda v: estimators.mean_and_stderr(np.zeros((3, 2)), axis=v),
     "axis", "axis"),
    ("score_function_gradient.f", lambda v: estimators.score_function_gradient(
        v, np.zeros(2), np.zeros(2), np.zeros((3, 2))), "f", "callable"),
    ("score_function_gradient.baseline", lambda v: estimators.score_function_gradient(
        lambda z: z.sum(1), np.zeros(2), np.zeros(2), np.zeros((3, 2)), v), "baseline", "float"),
    ("pathwise_gradient.grad_f", lambda v: estimators.pathwise_gradient(
        v, np.zeros(2), np.zeros(2), np.zeros((3, 2))), "grad_f", "callable"),
    ("exponential_reparam.rate", lambda v: estimators.exponential_reparam(np.zeros(3), v), "rate",
     "posfloat"),
    ("sgvb_loss_and_grads.estimator", lambda v: estimators.sgvb_loss_and_grads(
        MODEL, X6, EPS2, v), "estimator", "option"),
    ("sgvb_variance.n_draws", lambda v: estimators.sgvb_variance(MODEL, X6, v, R(0)), "n_draws",
     "draws"),
    ("sgvb_variance.rng", lambda v: estimators.sgvb_variance(MODEL, X6, 2, v), "rng", "rng"),
    # analysis
    ("encode_all.batch_size", lambda v: analysis.metrics.encode_all(MODEL, X6, v), "batch_size",
     "posint"),
    ("active_units.threshold", lambda v: analysis.metrics.active_units(np.eye(3), v), "threshold",
     "posfloat"),
    ("rate_distortion.rng", lambda v: analysis.metrics.rate_distortion(MODEL, X6, v), "rng",
     "rng"),
    ("rate_distortion.n_samples", lambda v: analysis.metrics.rate_distortion(
        MODEL, X6, R(0), n_samples=v), "n_samples", "posint"),
    ("lerp.n", lambda v: analysis.sampling.lerp(np.zeros(2), np.ones(2), v), "n", "draws"),
    ("matmul_bias_act.act", lambda v: fast.matmul.matmul_bias_act(
        np.ones((2, 3)), np.ones((3, 4)), np.ones(4), v), "act", "option"),
    ("matmul_bias_act.kc", lambda v: fast.matmul.matmul_bias_act(
        np.ones((2, 3)), np.ones((3, 4)), np.ones(4), kc=v), "kc", "posint"),
    ("matmul_bias_act.nc", lambda v: fast.matmul.matmul_bias_act(
        np.ones((2, 3)), np.ones((3, 4)), np.ones(4), nc=v), "nc", "posint"),
]

BAD.update({
    "axis": [(2.5, TypeError), (5, ValueError), ("0", TypeError)],
    "index": [(-1, ValueError), (1.5, TypeError), ("3", TypeError)],
    "unit_closed": [(1.5, ValueError), (-0.01, ValueError), ("0.5", TypeError), (np.nan, ValueError)],
    "draws": [(1, ValueError), (2.0, TypeError), ("3", TypeError)],
    "posint_or_none": [(v, e) for v, e in BAD["posint"] if v is not None],
})

def _show(value):
    """A test id that is the same in every process (no memory addresses)."""
    return type(value).__name__ if " at 0x" in repr(value) else repr(value)


CASES = [pytest.param(call, value, exc, name, id=f"{label}={_show(value)}")
         for label, call, name, kind in TABLE for value, exc in BAD[kind]]


@pytest.mark.parametrize("call, value, exc, name", CASES)
def test_bad_argument_is_named(call, value, exc, name):
    with pytest.raises(exc) as info:
        call(value)
    msg = str(info.value)
    assert f"'{name}'" in msg, msg
    assert not LEAKS.search(msg), msg
    if isinstance(info.value, InvalidParameterError):
        assert "must be" in msg and "Got " in msg, msg


def test_the_table_covers_many_arguments():
    assert len(TABLE) > 100 and len(CASES) > 400


@pytest.mark.parametrize("call, value", [
    (lambda v: vae(hidden_dims=v), [np.int64(5)]),            # NumPy integers are ints
    (lambda v: vae(hidden_dims=v), np.array([5, 3])),
    (lambda v: vae(seed=v), np.int32(7)),
    (lambda v: vae(obs_std=v), np.float32(0.5)),
    (lambda v: vae(obs_std=v), 2),                             # an int where a float is needed
    (lambda v: vae_np.Adam(lr=v), np.float64(1e-3)),
    (lambda v: vae_np.Adam(betas=v), np.array([0.5, 0.9])),
    (lambda v: vae_np.SGD(momentum=v), 0),
    (lambda v: fit(progress=v), np.bool_(False)),
    (lambda v: prob.GaussianMixture(v), np.uint8(2)),
    (lambda v: vae_np.make_moons(1, v, size=8, phases=[0.25]), None),   # rng unused with phases
])
def test_good_values_of_other_types_are_accepted(call, value):
    call(value)


def test_no_silent_truncation_of_widths():
    with pytest.raises(TypeError, match=r"'hidden_dims' .*whose entry 0 is 8.7 \(a float\)"):
        vae(hidden_dims=[8.7])
    with pytest.raises(TypeError, match=r"'sizes' .*whose entry 1 is 8.7"):
        layers.MLP([3, 8.7, 2])
    with pytest.raises(TypeError, match=r"Write it as an int \(8\), not a float"):
        vae(latent_dim=8.0)


def test_scikit_learn_style_message():
    with pytest.raises(ValueError) as info:
        prob.GaussianMixture(2, reg_covar="1e-6")
    assert str(info.value) == ("The 'reg_covar' parameter of GaussianMixture must be a float in "
                               "the range [0.0, inf). Got '1e-6' (a str).")
    assert isinstance(info.value, TypeError)      # InvalidParameterError is both


@pytest.mark.parametrize("names, exc, fragment", [
    ("enc.0.W", TypeError, r"For one parameter write names=\['enc.0.W'\]"),
    (["bogus"], ValueError, "Not a parameter name: 'bogus'"),
    ([], ValueError, "non-empty list"),
    (3, TypeError, "a list of parameter names"),
])
def test_check_model_names(names, exc, fragment):
    with pytest.raises(exc, match=fragment) as info:
        gradcheck.check_model(MODEL64, X6, EPS2, names=names)
    assert "'names'" in str(info.value)


@pytest.mark.parametrize("betas, exc", [(0.9, TypeError), ((0.9,), TypeError),
                                        ((0.9, 0.99, 0.999), TypeError), ("ab", TypeError),
                                        (None, TypeError)])
def test_adam_betas_must_be_a_pair(betas, exc):
    with pytest.raises(exc, match=r"'betas' parameter of Adam must be a pair"):
        vae_np.Adam(betas=betas)


@pytest.mark.parametrize("kwargs, name", [
    (dict(mirrors=123), "mirrors"), (dict(mirrors=[1, 2]), "mirrors"), (dict(mirrors=b"x"), "mirrors"),
    (dict(files="abc"), "files"),
    (dict(files={k: "xyz" for k in mnist.MNIST_FILES}), "files['train-images-idx3-ubyte.gz']"),
])
def test_load_mnist_download_arguments(kwargs, name):
    with pytest.raises(TypeError) as info:
        vae_np.load_mnist(source="full", **kwargs)
    assert f"'{name}'" in str(info.value) or name in str(info.value)


def test_timeout_zero_blames_the_argument_not_the_network(tmp_path):
    with pytest.raises(ValueError, match=r"'timeout' parameter of load_mnist must be a float in "
                                         r"the range \(0.0, inf\)\. Got 0"):
        vae_np.load_mnist(source="full", cache_dir=tmp_path, mirrors=["http://127.0.0.1:9/"],
                          timeout=0)
    assert list(tmp_path.iterdir()) == []        # nothing was attempted


def test_numpy_integer_seeds_are_stored_as_ints_and_save(tmp_path):
    model = vae(seed=np.int64(3))
    assert type(model.config["seed"]) is int and model.config["seed"] == 3
    loaded = vae_np.load(vae_np.save(model, tmp_path / "m.npz"))
    assert loaded.config == model.config
    gm = prob.GaussianMixture(2, seed=np.int32(1))
    assert type(gm.seed) is int
