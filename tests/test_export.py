"""vae_np.export: a decoder exported to JSON decodes like the model, and bad input is refused."""
import base64
import json
import os

import numpy as np
import pytest

import vae_np
from vae_np.export import (
    ExportError,
    array_from_base64,
    array_to_base64,
    export_decoder,
    load_decoder_export,
)


def _trained_like(model, seed=0):
    """Give every parameter non-trivial values (biases are zero at initialisation)."""
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape).astype(p.dtype) * 0.5
    return model


@pytest.mark.parametrize("make", [
    lambda: vae_np.VAE(12, [7, 5], 3, seed=1),
    lambda: vae_np.VAE(12, [6], 2, activation="tanh", likelihood="gaussian", seed=2),
    lambda: vae_np.Autoencoder(12, [6], 4, activation="softplus", seed=3),
    lambda: vae_np.VAE(12, [], 2, seed=4),
    lambda: vae_np.VAE(12, [6], 2, activation="sigmoid", dtype=np.float64, seed=5),
])
def test_file_round_trips_to_the_same_decoder(make, tmp_path):
    model = _trained_like(make())
    path = tmp_path / "decoder.json"
    data = export_decoder(model, path)
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert not [p for p in tmp_path.iterdir() if p != path]          # no temporary file left
    dec = load_decoder_export(path)
    assert dec.latent_dim == model.latent_dim and dec.output_dim == model.input_dim
    assert dec.likelihood == model.likelihood
    lin = [layer for layer in model.decoder.layers if isinstance(layer, vae_np.Linear)]
    assert len(dec.layers) == len(lin)
    for (W, b, _), layer in zip(dec.layers, lin):                    # weights, bit for bit
        np.testing.assert_array_equal(W, layer.params["W"].astype(np.float32))
        np.testing.assert_array_equal(b, layer.params["b"].astype(np.float32))
    Z = np.random.default_rng(0).standard_normal((50, model.latent_dim)) * 2
    want = model.decode(Z.astype(model.dtype))
    got = dec.decode(Z)
    assert got.dtype == np.float32 and got.shape == (50, model.input_dim)
    tol = 1e-6 if model.dtype == np.float32 else 1e-5      # float64 weights rounded to float32
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    if model.likelihood == "bernoulli":
        assert got.min() >= 0 and got.max() <= 1


def test_the_dict_round_trips_and_is_deterministic():
    model = _trained_like(vae_np.VAE(20, [8], 2, seed=0))
    a, b = export_decoder(model), export_decoder(model)
    assert json.dumps(a) == json.dumps(b)
    assert a["layers"][0]["activation"] == "relu" and a["layers"][-1]["activation"] == "identity"
    assert a["output"] == "sigmoid" and a["latent_dim"] == 2 and a["output_dim"] == 20
    assert [(layer["in"], layer["out"]) for layer in a["layers"]] == [(2, 8), (8, 20)]
    dec = load_decoder_export(json.loads(json.dumps(a)))
    Z = np.random.default_rng(1).standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_allclose(dec.decode(Z), model.decode(Z), rtol=1e-6, atol=1e-7)
    assert "sizes=[2, 8, 20]" in repr(dec)


def test_weights_are_little_endian_float32_row_major():
    model = vae_np.VAE(6, [3], 2, seed=0)
    layer = export_decoder(model)["layers"][0]
    raw = base64.b64decode(layer["W"])
    W = model.decoder.layers[0].params["W"]
    assert raw == W.astype("<f4").tobytes(order="C")
    assert np.array_equal(array_from_base64(layer["W"], (2, 3)), W)


def test_array_base64_helpers():
    a = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    back = array_from_base64(array_to_base64(a), (2, 3))
    np.testing.assert_array_equal(back, a.astype(np.float32))
    with pytest.raises(ValueError, match="a must be an array of finite numbers"):
        array_to_base64([1.0, np.nan])
    with pytest.raises(ExportError, match=r"codes holds 24 bytes, but shape \(7,\) needs"):
        array_from_base64(array_to_base64(a), (7,), name="codes")
    with pytest.raises(ExportError, match="codes is not valid base64"):
        array_from_base64("not base64!", (1,), name="codes")
    with pytest.raises(ExportError, match="codes must be base64 text"):
        array_from_base64(None, (1,), name="codes")


# ------------------------------------------------------------------------------ bad input
def test_export_refuses_what_is_not_a_model(tmp_path):
    with pytest.raises(TypeError, match="model must be a vae_np VAE or Autoencoder.*got dict"):
        export_decoder({"decoder": None})
    with pytest.raises(TypeError, match="path must be a str, an os.PathLike or None, got int"):
        export_decoder(vae_np.VAE(6, [3], 2), 3)
    with pytest.raises(FileNotFoundError, match="path .*: the folder .* does not exist"):
        export_decoder(vae_np.VAE(6, [3], 2), tmp_path / "missing" / "d.json")


def test_export_refuses_a_diverged_model(tmp_path):
    model = vae_np.VAE(6, [3], 2)
    model.params["dec.2.b"][0] = np.nan
    path = tmp_path / "d.json"
    with pytest.raises(ValueError, match="decoder layer 1 has NaN or inf weights"):
        export_decoder(model, path)
    assert not path.exists()


def test_an_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "d.json"
    export_decoder(vae_np.VAE(6, [3], 2, seed=0), path)
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        export_decoder(vae_np.VAE(6, [3], 2, seed=1), path)
    assert path.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == [path]                     # the temporary file is gone


def _good():
    return export_decoder(_trained_like(vae_np.VAE(6, [4], 2, seed=0)))


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(format="vae_np-checkpoint"), "not a vae_np decoder export"),
    (lambda d: d.update(version=2), "export version 2; this vae_np reads version 1"),
    (lambda d: d.update(dtype="float64"), "'dtype' must be 'float32'"),
    (lambda d: d.update(byteorder="big"), "'byteorder' must be 'little'"),
    (lambda d: d.update(output="identity"), "likelihood 'bernoulli' with output 'identity'"),
    (lambda d: d.update(layers=[]), "'layers' is empty"),
    (lambda d: d.pop("latent_dim"), "source has no 'latent_dim'"),
    (lambda d: d.update(latent_dim="2"), "'latent_dim' must be int"),
    (lambda d: d.update(output_dim=5), "the last layer outputs 6 numbers, but output_dim is 5"),
    (lambda d: d["layers"].__setitem__(0, "relu"), r"layers\[0\] must be an object"),
    (lambda d: d["layers"][1].update({"in": 5}), r"layers\[1\] has shape \(5, 6\), but its input "
                                                 "has 4 features"),
    (lambda d: d["layers"][0].update(activation="gelu"), r"layers\[0\]: unknown activation 'gelu'"),
    (lambda d: d["layers"][1].update(W=d["layers"][1]["W"][:-8]), r"layers\[1\]\.W holds"),
    (lambda d: d["layers"][0].pop("W"), r"layers\[0\]\.W must be base64 text"),
])
def test_load_refuses_bad_exports(edit, match):
    d = _good()
    edit(d)
    with pytest.raises(ExportError, match=match):
        load_decoder_export(d)


def test_load_refuses_non_finite_weights():
    d = _good()
    d["layers"][0]["b"] = base64.b64encode(np.array([np.inf, 0, 0, 0], "<f4").tobytes()).decode()
    with pytest.raises(ExportError, match=r"layers\[0\] has NaN or inf weights"):
        load_decoder_export(d)


def test_load_refuses_bad_sources(tmp_path):
    with pytest.raises(TypeError, match="source must be a dict or a path, got list"):
        load_decoder_export([1, 2])
    with pytest.raises(FileNotFoundError, match="source .*nothing.json.*: no such file"):
        load_decoder_export(tmp_path / "nothing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "vae_np-decoder", "vers', encoding="utf-8")
    with pytest.raises(ExportError, match="bad.json.* is not a JSON file"):
        load_decoder_export(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ExportError, match="is not a vae_np decoder export"):
        load_decoder_export(bad)
    assert issubclass(ExportError, ValueError)


def test_decode_checks_Z():
    dec = load_decoder_export(_good())
    with pytest.raises(ValueError, match="Z must have 2 features per row"):
        dec.decode(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="Z contains NaN or inf"):
        dec.decode(np.full((1, 2), np.nan))
