"""Checkpoints: round trip, and clear errors for files that are not checkpoints."""
import numpy as np
import pytest

import vae_np
from vae_np.io import CheckpointError


def test_round_trip_vae_and_ae(tmp_path, assert_same_params):
    for model in (vae_np.VAE(12, [7, 5], 3, activation="tanh", likelihood="gaussian",
                             obs_std=0.3, seed=2),
                  vae_np.Autoencoder(12, [6], 2, code_noise=0.5, seed=1, dtype=np.float64)):
        path = vae_np.save(model, tmp_path / "m.npz")
        loaded = vae_np.load(path)
        assert type(loaded) is type(model) and loaded.config == model.config
        assert_same_params(loaded, model)
        X = np.random.default_rng(0).random((3, 12))
        np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))


def test_truncated_checkpoint_is_rejected(tmp_path, small_model):
    path = vae_np.save(small_model(), tmp_path / "m.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not an .npz"):
        vae_np.load(path)


def test_other_files_are_rejected(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable vae_np checkpoint"):
        vae_np.load(text)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a vae_np checkpoint"):
        vae_np.load(other)
    with pytest.raises(FileNotFoundError):
        vae_np.load(tmp_path / "missing.npz")
