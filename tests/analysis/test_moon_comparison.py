"""vae_np.analysis.moons: the measures of the moon comparison (chapters 2 and 5a)."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis import moons
from vae_np.analysis.sampling import interpolate_pixels, latent_codes
from vae_np.data import make_moons, moon_image


@pytest.fixture(scope="module")
def grid():
    return moons.moon_templates(41, size=16)


def test_templates_are_true_moons_on_an_even_grid(grid):
    phases, templates = grid
    np.testing.assert_allclose(phases, np.linspace(0, 1, 41))
    assert templates.shape == (41, 256) and templates.dtype == np.float32
    np.testing.assert_array_equal(templates[10], moon_image(0.25, 16).ravel())


def test_a_true_moon_is_judged_exactly_and_a_cross_fade_is_far(grid):
    phases, templates = grid
    r = moons.judge_moons(templates[[30, 20]], phases, templates)
    np.testing.assert_allclose(r["phase"], [0.75, 0.5])
    np.testing.assert_allclose(r["rms"], 0, atol=1e-7)
    np.testing.assert_allclose(r["lit"], [0.75, 0.5], atol=0.02)
    fade = interpolate_pixels(templates[-1], templates[20], 3)[1:2]   # half full, half half moon
    r = moons.judge_moons(fade, phases, templates)
    assert r["rms"][0] > 0.1                     # not a moon ...
    assert abs(r["lit"][0] - 0.75) < 0.02        # ... though it has a 3/4 moon's light


def test_judge_moons_needs_one_phase_per_template(grid):
    phases, templates = grid
    with pytest.raises(ValueError, match="one phase per template"):
        moons.judge_moons(templates[:2], phases[:-1], templates)


def test_steps_in_order_counts_steps_towards_the_end():
    assert moons.steps_in_order([1.0, 0.8, 0.6, 0.5], 1.0, 0.5) == 1.0
    assert moons.steps_in_order([1.0, 0.8, 0.6, 0.5], 0.5, 1.0) == 0.0
    assert moons.steps_in_order([1.0, 0.9, 0.95, 0.5, 0.5], 1.0, 0.5) == 0.5   # a step back, a flat
    with pytest.raises(ValueError, match="must differ"):
        moons.steps_in_order([0.1, 0.2], 0.3, 0.3)
    with pytest.raises(ValueError, match="at least 2"):
        moons.steps_in_order([0.1], 0.0, 1.0)
    with pytest.raises(ValueError, match="'start' parameter"):
        moons.steps_in_order([0.1, 0.2], "a", 1.0)


def test_sample_codes_prior_for_a_vae_fitted_gaussian_for_an_autoencoder(small_model):
    rng = np.random.default_rng(0)
    X = rng.random((400, 10))
    vae = small_model(vae_np.VAE)
    Z = moons.sample_codes(vae, X, 20000, np.random.default_rng(1))
    assert Z.shape == (20000, 2) and Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(0), 0, atol=0.03)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(2), atol=0.05)
    ae = small_model(vae_np.Autoencoder)
    codes = latent_codes(ae, X).astype(np.float64)
    Z = moons.sample_codes(ae, X, 20000, np.random.default_rng(1)).astype(np.float64)
    scale = codes.std(0).max()
    np.testing.assert_allclose(Z.mean(0), codes.mean(0), atol=0.03 * scale)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.cov(codes, rowvar=False),
                               atol=0.05 * scale ** 2)
    with pytest.raises(ValueError, match="'rng' parameter"):
        moons.sample_codes(ae, X, 5, 0)


@pytest.fixture(scope="module")
def small_moons():
    X, _ = make_moons(200, np.random.default_rng(0), size=12)
    return X


@pytest.mark.parametrize("kind, cls, noise", [("autoencoder", vae_np.Autoencoder, 0.0),
                                              ("noisy-code autoencoder", vae_np.Autoencoder, 3.0),
                                              ("VAE", vae_np.VAE, None)])
def test_fit_moon_model_uses_the_shared_setup(small_moons, kind, cls, noise):
    setup = {"hidden": 8, "epochs": 2}
    model = moons.fit_moon_model(kind, 1, 0, small_moons, setup)
    assert type(model) is cls and model.latent_dim == 1 and model.hidden_dims == (8,)
    if noise is not None:
        assert model.code_noise == noise == moons.MOON_SETUP["code_noise"] * (noise > 0)
    untrained = cls(144, (8,), 1, seed=0)
    assert not np.array_equal(model.params["dec.0.W"], untrained.params["dec.0.W"])
    again = moons.fit_moon_model(kind, 1, 0, small_moons, setup)   # deterministic given the seed
    np.testing.assert_array_equal(model.params["dec.0.W"], again.params["dec.0.W"])


def test_fit_moon_model_validates(small_moons):
    with pytest.raises(ValueError, match="'kind' parameter"):
        moons.fit_moon_model("pca", 1, 0, small_moons)
    with pytest.raises(ValueError, match="'latent_dim' parameter"):
        moons.fit_moon_model("VAE", 0, 0, small_moons)


def test_moon_measures_agree_with_their_definitions(small_moons):
    phases, templates = moons.moon_templates(51, size=12)
    model = moons.fit_moon_model("autoencoder", 2, 0, small_moons, {"hidden": 16, "epochs": 3})
    full, half = templates[-1], templates[25]
    r = moons.moon_measures(model, small_moons, full, half, np.random.default_rng(0), phases,
                            templates, n_steps=5, n_samples=50, n_recon=40)
    assert r["path"].shape == (5, 144)
    np.testing.assert_allclose(r["path"][0], model.reconstruct(full[None])[0], atol=1e-6)
    judged = moons.judge_moons(r["path"], phases, templates)
    assert r["mid_rms"] == pytest.approx(judged["rms"][2])
    assert r["mid_lit"] == pytest.approx(judged["lit"][2])
    assert r["max_rms"] == pytest.approx(judged["rms"].max())
    assert r["in_order"] == moons.steps_in_order(judged["lit"], 1.0, 0.5)
    recon = moons.judge_moons(model.reconstruct(small_moons[:40]), phases, templates)["rms"]
    assert r["recon_rms"] == pytest.approx(np.median(recon))
    assert r["mid_ratio"] == pytest.approx(r["mid_rms"] / r["recon_rms"])
    assert set(moons.MOON_COLUMNS) <= set(r)          # the default table can show every column
    text = moons.moon_table({"AE": [r]})
    assert "recon. distance" in text.splitlines()[0]
    assert f"{r['recon_rms']:.3f} ± 0.000" in text.splitlines()[1]
    with pytest.raises(ValueError, match="odd"):
        moons.moon_measures(model, small_moons, full, half, np.random.default_rng(0), phases,
                            templates, n_steps=4)


def test_summarize_gives_mean_and_spread_over_seeds():
    s = moons.summarize([{"a": 1.0, "b": 0.0}, {"a": 3.0, "b": 0.0}], ["a"])
    assert s == {"a": (2.0, 1.0)}
    with pytest.raises(ValueError, match="empty"):
        moons.summarize([], ["a"])


def test_moon_table_has_a_row_per_model_with_mean_and_spread():
    rows = {"model A": [{"x": 1.0}, {"x": 3.0}], "B": [{"x": 0.5}]}
    text = moons.moon_table(rows, {"x": ("measure x", ".1f")})
    lines = text.splitlines()
    assert len(lines) == 3 and "measure x" in lines[0]
    assert lines[1].startswith("model A") and lines[1].endswith("2.0 ± 1.0")
    assert lines[2].startswith("B") and lines[2].endswith("0.5 ± 0.0")
