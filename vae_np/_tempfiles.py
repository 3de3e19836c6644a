"""Temporary files of the atomic writes (checkpoints, downloads), and the sweep of stale ones.

:func:`vae_np.save` and the MNIST download write into a temporary file in the target's folder
and rename it over the target once it is complete, so a crash never leaves a partial target. A
process killed in the middle (SIGKILL, a power cut) cannot remove its temporary file, so the next
save or download into the same folder does. The rule:

* **Only our own names**: ``<target>.vae_np-<host>-<pid>-<8 random characters><suffix>``
  (suffix ``.tmp`` for checkpoints, ``.part`` for downloads), and only regular files (never a
  symbolic link or a folder). Files of other programs are never touched.
* **Only when its writer is gone**: a temporary file is stale when it was made on this host (the
  name says which) by a process that no longer exists (checked by its id; POSIX only), or,
  whatever the host, when it has not been modified for :data:`STALE_AFTER` seconds (an hour: a
  save writes without pausing, and a download's reads time out long before that). A write in
  progress, in this process (another thread) or in another live process, keeps its file.
* **Never an error**: files that vanish meanwhile (another sweeper) or cannot be removed are
  skipped; the save or download goes on.
"""
from __future__ import annotations

import os
import re
import socket
import stat
import tempfile
import time

__all__ = ["STALE_AFTER", "SUFFIXES", "make_temp", "sweep", "temp_name_info"]

#: Seconds without modification after which a temporary file of ours is stale whatever its writer.
STALE_AFTER = 3600.0
#: Suffixes of our temporary files: checkpoints, downloads.
SUFFIXES = (".tmp", ".part")

_PATTERN = re.compile(r"^(?P<target>.+)\.vae_np-(?P<host>[A-Za-z0-9]*)-(?P<pid>[0-9]+)-"
                      r"[a-z0-9_]{8}(?P<suffix>\.tmp|\.part)$")


def _host():
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32]


def make_temp(folder, target_name, suffix):
    """Create (``O_EXCL``) a temporary file for ``target_name`` in ``folder``.

    Parameters
    ----------
    folder : str or Path
    target_name : str
        Name of the file it will be renamed to (shortened in the temporary name if long).
    suffix : {".tmp", ".part"}

    Returns
    -------
    fd : int
        Open file descriptor (mode 0600).
    path : str
    """
    if suffix not in SUFFIXES:
        raise ValueError(f"suffix must be one of {SUFFIXES}, got {suffix!r}")
    prefix = f"{target_name[:100]}.vae_np-{_host()}-{os.getpid()}-"
    return tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)


def temp_name_info(name):
    """``(host, pid, suffix)`` if ``name`` is one of our temporary files' names, else None."""
    m = _PATTERN.match(name)
    return (m["host"], int(m["pid"]), m["suffix"]) if m else None


def _writer_gone(host, pid):
    """Whether the process that made the file surely no longer exists."""
    if os.name != "posix" or host != _host() or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)              # signal 0: only checks that the process exists
    except ProcessLookupError:
        return True
    except OSError:                  # it exists (another user's: EPERM), or we cannot tell
        return False
    return False


def sweep(folder, now=None):
    """Remove the stale temporary files of ours in ``folder`` (see the module's rule).

    Parameters
    ----------
    folder : str or Path
    now : float, optional
        The current time (``time.time()``), for tests.

    Returns
    -------
    list of str
        The paths removed.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        info = temp_name_info(entry.name)
        if info is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            if _writer_gone(info[0], info[1]) or now - st.st_mtime > STALE_AFTER:
                os.remove(entry.path)
                removed.append(entry.path)
        except OSError:              # gone meanwhile (another sweeper), or not ours to remove
            continue
    return removed


def write_atomically(path, write, binary=True):
    """Write ``path`` whole or not at all: ``write(file)`` fills a temp file of ours, then rename.

    Stale temp files of killed writers in the folder are swept first (:func:`sweep`). The data is
    flushed to disk before the rename, and the temp file is removed if anything fails, so the
    target is either the old file or the complete new one.

    Parameters
    ----------
    path : pathlib.Path
        The target file.
    write : callable
        ``write(f)`` writes the content to the open file ``f``.
    binary : bool
        Open the temp file in binary mode (else text, UTF-8).
    """
    folder = path.parent if str(path.parent) else "."
    sweep(folder)
    fd, tmp = make_temp(folder, path.name, ".tmp")
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
