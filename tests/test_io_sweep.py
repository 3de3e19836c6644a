"""A save killed mid-write leaves a temporary file; the next save into that folder removes it.

The rule (``vae_np._tempfiles``): only our own names (``<target>.vae_np-<host>-<pid>-<8>.tmp`` or
``.part``), only regular files, and only when the writer is gone (same host, no such process) or
the file has not changed for an hour. A save in progress (another process, another thread) keeps
its file. The SIGKILL cases use real processes: a child starts a save that stalls mid-write (its
``np.savez`` is replaced by one that writes a few bytes and sleeps), and is killed with SIGKILL.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import vae_np
import vae_np.io as vio
from vae_np import _tempfiles

posix_only = pytest.mark.skipif(os.name != "posix", reason="process ids are checked on POSIX only")

SLOW_SAVE = """
import sys, time
import numpy as np
import vae_np

def stalled_savez(file, **arrays):       # a save that is slow (a huge model, a slow disk)
    file.write(b"PK\\x03\\x04 the first bytes of a checkpoint")
    file.flush()
    time.sleep(120)

np.savez = stalled_savez
vae_np.save(vae_np.VAE(6, [5], 2, seed=0), sys.argv[1])
"""


def ours(folder):
    return sorted(p.name for p in folder.iterdir() if _tempfiles.temp_name_info(p.name))


def start_stalled_save(target):
    """A child process that is writing ``target``'s temp file (returned once the bytes are in)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(target)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        temps = [p for p in target.parent.iterdir()
                 if (_tempfiles.temp_name_info(p.name) or (None, proc.pid))[1] == proc.pid]
        if temps and temps[0].stat().st_size > 0:
            return proc, temps[0]
        if proc.poll() is not None:
            raise AssertionError("the child exited: " + proc.stderr.read().decode()[-2000:])
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the child never started writing")


def kill9(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)                      # reaped: the process id no longer exists


@posix_only
def test_a_save_killed_mid_write_is_swept_by_the_next_save(tmp_path, small_model,
                                                           assert_same_params):
    proc, temp = start_stalled_save(tmp_path / "model.npz")
    kill9(proc)
    assert temp.exists() and temp.read_bytes().startswith(b"PK")     # the leftover
    assert temp.name.startswith("model.npz.vae_np-") and temp.name.endswith(".tmp")
    model = small_model(seed=3)
    vae_np.save(model, tmp_path / "other.npz")                       # any save into the folder
    assert not temp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.npz"]
    assert_same_params(vae_np.load(tmp_path / "other.npz"), model)


@posix_only
def test_a_save_in_progress_in_another_process_keeps_its_file(tmp_path, small_model,
                                                              assert_same_params):
    target = tmp_path / "model.npz"
    proc, temp = start_stalled_save(target)
    try:
        model = small_model(seed=4)
        vae_np.save(model, target)                                   # the same target, even
        assert temp.exists(), "the temp file of a live writer was removed"
        assert_same_params(vae_np.load(target), model)
    finally:
        kill9(proc)
    vae_np.save(small_model(), target)
    assert ours(tmp_path) == []


def test_a_save_in_progress_in_another_thread_keeps_its_file(tmp_path, small_model, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real_savez = np.savez

    def slow_savez(file, **arrays):
        if threading.current_thread() is not threading.main_thread():
            file.write(b"PK")
            file.flush()
            started.set()
            release.wait(30)
        real_savez(file, **arrays)

    monkeypatch.setattr(vio.np, "savez", slow_savez)
    worker = threading.Thread(target=vae_np.save, args=(small_model(seed=1), tmp_path / "a.npz"))
    worker.start()
    try:
        assert started.wait(30)
        (temp,) = ours(tmp_path)
        vae_np.save(small_model(seed=2), tmp_path / "b.npz")
        assert (tmp_path / temp).exists()
    finally:
        release.set()
        worker.join(30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]


# ------------------------------------------------------------------------------------ the rule
def _name(target, host, pid, suffix=".tmp"):
    return f"{target}.vae_np-{host}-{pid}-abcd_123{suffix}"


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@posix_only
def test_the_sweep_rule(tmp_path):
    host, now = _tempfiles._host(), time.time()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        files = {
            _name("m.npz", host, _dead_pid()): True,                 # writer gone
            _name("data.gz", host, _dead_pid(), ".part"): True,      # a download's
            _name("m.npz", host, live.pid): False,                   # writer alive
            _name("m.npz", host, os.getpid()): False,                # this process
            _name("m.npz", "otherhost", _dead_pid()): False,         # can't check another host
            "m.npz.abcdefgh.tmp": False,                             # not our name
            "notes.tmp": False,
            f"m.npz.vae_np-{host}-{_dead_pid()}-short.tmp": False,
            _name("m.npz", host, _dead_pid(), ".bak"): False,
        }
        for name in files:
            (tmp_path / name).write_bytes(b"x")
        old = {_name("old.npz", "otherhost", 1): True,                # unchanged for 2 hours
               _name("old.npz", host, live.pid): True,                # (a reused process id)
               "old.tmp": False}
        for name in old:
            (tmp_path / name).write_bytes(b"x")
            os.utime(tmp_path / name, (now - 7200, now - 7200))
        files.update(old)
        link = _name("link.npz", host, _dead_pid())
        os.symlink(tmp_path / "notes.tmp", tmp_path / link)           # never follow or remove
        folder = _name("dir.npz", host, _dead_pid())
        (tmp_path / folder).mkdir()
        removed = _tempfiles.sweep(tmp_path)
    finally:
        live.kill()
        live.wait()
    assert sorted(os.path.basename(p) for p in removed) == sorted(n for n, r in files.items() if r)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {n for n, r in files.items() if not r} | {link, folder}


def test_the_sweep_never_fails(tmp_path, monkeypatch):
    assert _tempfiles.sweep(tmp_path / "missing") == []
    (tmp_path / _name("m.npz", "otherhost", 1)).write_bytes(b"x")
    monkeypatch.setattr(_tempfiles.os, "remove", lambda p: (_ for _ in ()).throw(PermissionError))
    assert _tempfiles.sweep(tmp_path, now=time.time() + 1e6) == []


def test_temp_names_are_ours_and_short(tmp_path):
    fd, path = _tempfiles.make_temp(tmp_path, "x" * 300 + ".npz", ".tmp")
    os.close(fd)
    host, pid, suffix = _tempfiles.temp_name_info(os.path.basename(path))
    assert (host, pid, suffix) == (_tempfiles._host(), os.getpid(), ".tmp")
    assert len(os.path.basename(path)) < 200
