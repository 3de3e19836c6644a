"""Checkpoints survive crashes and bad files: ``save`` is atomic, ``load`` validates everything.

* A crash while writing (in ``np.savez``, ``fsync`` or the final ``os.replace``, including a
  ``KeyboardInterrupt``) leaves the previous checkpoint byte-for-byte intact and no temp file.
* ``load`` rejects, with a ``CheckpointError`` that says what is wrong: files cut at any length,
  files written by other programs (text, PNG, pickle, a lone ``.npy``, a plain ``.npz``, a zip),
  a wrong format marker or version, an architecture that cannot be rebuilt, arrays that do not
  match the architecture (missing, extra, wrong shape) and non-finite or non-float arrays.
"""
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import vae_np
from vae_np.io import FORMAT, VERSION, CheckpointError


def write_checkpoint(path, header, arrays):
    """Write an .npz laid out like a checkpoint, with any header and arrays (to forge bad ones)."""
    h = header if isinstance(header, str) else json.dumps(header)
    np.savez(path, __header__=np.array(h), **{f"param/{k}": v for k, v in arrays.items()})
    return path


def good_header(model):
    return {"format": FORMAT, "version": VERSION, "class": type(model).__name__,
            "config": model.config, "params": list(model.params)}


# ------------------------------------------------------------------------------------ atomic save
def _boom(*args, **kwargs):
    raise OSError("simulated crash: disk full")


def _partial_then_boom(file, *args, **kwargs):
    file.write(b"PK\x03\x04 half a checkpoint")      # some bytes reach the temp file first
    raise OSError("simulated crash mid-write")


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("target, replacement", [
    ("np.savez", _partial_then_boom),
    ("np.savez", _interrupt),
    ("os.fsync", _boom),
    ("os.replace", _boom),
])
def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch, small_model,
                                                    assert_same_params, target, replacement):
    path = tmp_path / "model.npz"
    old = small_model(seed=1)
    vae_np.save(old, path)
    before = path.read_bytes()
    module, name = target.split(".")
    monkeypatch.setattr({"np": np, "os": os}[module], name, replacement)
    with pytest.raises((OSError, KeyboardInterrupt)):
        vae_np.save(small_model(seed=2), path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["model.npz"], "a temp file was left behind"
    assert path.read_bytes() == before
    assert_same_params(vae_np.load(path), old)


def test_crash_during_first_save_leaves_nothing(tmp_path, monkeypatch, small_model):
    monkeypatch.setattr(np, "savez", _partial_then_boom)
    with pytest.raises(OSError, match="simulated crash"):
        vae_np.save(small_model(), tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_save_replaces_and_writes_in_the_target_folder(tmp_path, monkeypatch, small_model,
                                                       assert_same_params):
    path = tmp_path / "model.npz"
    vae_np.save(small_model(seed=1), path)
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src), dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    new = small_model(seed=2)
    vae_np.save(new, path)
    (folder, tmp_name, dst), = seen
    assert folder == str(tmp_path) and tmp_name.endswith(".tmp") and str(dst) == str(path)
    assert_same_params(vae_np.load(path), new)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_into_missing_folder_fails_clearly(tmp_path, small_model):
    with pytest.raises(FileNotFoundError):
        vae_np.save(small_model(), tmp_path / "no" / "such" / "model.npz")


# ------------------------------------------------------------------------------------ truncation
def test_every_truncation_is_rejected(tmp_path, small_model):
    path = vae_np.save(small_model(), tmp_path / "m.npz")
    data = path.read_bytes()
    cuts = sorted({0, 1, 4, 30, 100, len(data) // 3, len(data) // 2, len(data) - 22,
                   len(data) - 1})
    for cut in cuts:
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="not a readable vae_np checkpoint"):
            vae_np.load(bad)


def test_flipped_bytes_in_an_array_are_rejected(tmp_path, small_model):
    path = vae_np.save(small_model(), tmp_path / "m.npz")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF                      # inside a parameter array: CRC mismatch
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        vae_np.load(path)


# ------------------------------------------------------------------------------------ other files
def test_files_from_other_programs_are_rejected(tmp_path):
    cases = {}
    cases["text.npz"] = b"epoch,loss\n1,104.2\n"
    cases["image.npz"] = b"\x89PNG\r\n\x1a\n" + bytes(64)
    cases["pickle.npz"] = pickle.dumps({"W": [1, 2, 3]})
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match="not a readable vae_np checkpoint"):
            vae_np.load(tmp_path / name)

    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match=r"single NumPy array \(.npy\)"):
        vae_np.load(tmp_path / "array.npy")

    np.savez(tmp_path / "plain.npz", W=np.zeros((2, 2)))
    with pytest.raises(CheckpointError, match="no header.*vae_np.io.save"):
        vae_np.load(tmp_path / "plain.npz")

    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="not a vae_np checkpoint"):
        vae_np.load(tmp_path / "archive.zip")

    with pytest.raises(CheckpointError, match="not a readable"):
        vae_np.load(tmp_path)                          # a folder
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        vae_np.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("header, match", [
    ("not json at all", "not a readable"),
    ("[1, 2, 3]", "header is not a JSON object"),
    ({"format": "someone-elses-format", "version": 1}, "format 'someone-elses-format'"),
    ({"version": 1}, "format None"),
])
def test_foreign_or_broken_headers_are_rejected(tmp_path, small_model, header, match):
    path = write_checkpoint(tmp_path / "m.npz", header, small_model().params)
    with pytest.raises(CheckpointError, match=match):
        vae_np.load(path)


# ------------------------------------------------------------------------------------ version
@pytest.mark.parametrize("version", [0, VERSION + 1, "1", None])
def test_unknown_versions_are_rejected(tmp_path, small_model, version):
    m = small_model()
    header = good_header(m)
    header["version"] = version
    path = write_checkpoint(tmp_path / "m.npz", header, m.params)
    with pytest.raises(CheckpointError, match=rf"version {version!r}; this vae_np reads "
                                              rf"version {VERSION}"):
        vae_np.load(path)


def test_saved_file_records_format_and_version(tmp_path, small_model):
    path = vae_np.save(small_model(), tmp_path / "m.npz")
    with np.load(path) as data:
        header = json.loads(str(data["__header__"]))
    assert header["format"] == FORMAT and header["version"] == VERSION == 1
    assert header["class"] == "VAE" and header["config"]["latent_dim"] == 2


# ------------------------------------------------------------------------------------ architecture
def test_unrebuildable_architectures_are_rejected(tmp_path, small_model):
    m = small_model()
    for change, match in [({"class": "GAN"}, "unknown model class 'GAN'"),
                          ({"config": {**m.config, "latent_dim": 0}},
                           "cannot be rebuilt.*latent_dim"),
                          ({"config": {**m.config, "n_layers": 3}}, "cannot be rebuilt.*n_layers"),
                          ({"config": "784-400-20"}, "cannot be rebuilt")]:
        path = write_checkpoint(tmp_path / "m.npz", {**good_header(m), **change}, m.params)
        with pytest.raises(CheckpointError, match=match):
            vae_np.load(path)


def test_arrays_that_do_not_match_the_architecture_are_rejected(tmp_path, small_model):
    m = small_model()
    header = good_header(m)
    first = next(iter(m.params))
    path = tmp_path / "m.npz"

    missing = {k: v for k, v in m.params.items() if k != first}
    write_checkpoint(path, header, missing)
    with pytest.raises(CheckpointError, match="do not match the architecture"):
        vae_np.load(path)

    write_checkpoint(path, header, {**m.params, "enc.9.W": np.zeros((2, 2), np.float32)})
    with pytest.raises(CheckpointError, match="do not match the architecture"):
        vae_np.load(path)

    wrong = dict(m.params)
    wrong[first] = np.zeros((3, 3), np.float32)
    write_checkpoint(path, header, wrong)
    with pytest.raises(CheckpointError, match=rf"array '{first}' has shape \(3, 3\) but the "
                                              r"stored architecture needs \(10, 6\)"):
        vae_np.load(path)

    # The same arrays under the header of a bigger model: shapes disagree.
    big = vae_np.VAE(10, [7], 2, seed=0)
    write_checkpoint(path, good_header(big), m.params)
    with pytest.raises(CheckpointError, match="has shape"):
        vae_np.load(path)


def test_non_finite_or_non_float_arrays_are_rejected(tmp_path, small_model):
    m = small_model()
    first = next(iter(m.params))
    path = tmp_path / "m.npz"
    for bad in (np.full_like(m.params[first], np.nan), np.full_like(m.params[first], np.inf),
                np.zeros(m.params[first].shape, dtype=np.int64)):
        write_checkpoint(path, good_header(m), {**m.params, first: bad})
        with pytest.raises(CheckpointError, match=rf"array '{first}' is not finite"):
            vae_np.load(path)


def test_a_forged_but_valid_checkpoint_loads(tmp_path, small_model, assert_same_params):
    """The helper above writes what save writes: the rejections are not artefacts of it."""
    m = small_model(seed=3)
    path = write_checkpoint(tmp_path / "m.npz", good_header(m), m.params)
    assert_same_params(vae_np.load(path), m)
