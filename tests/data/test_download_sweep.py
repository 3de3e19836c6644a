"""A download killed mid-file leaves a ``.part`` file; the next download into that folder removes
it, but never the ``.part`` of a download still in progress in another process.

Real processes and a real local HTTP server on 127.0.0.1 (started here, no network): a child
process runs ``load_mnist(source="full")`` against a server that sends part of the first file
and then stalls; once the child has written bytes into its ``.part`` file it is killed with
SIGKILL (or, for the concurrent case, left running while this process downloads).
"""
import gzip
import hashlib
import http.server
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from vae_np import _tempfiles
from vae_np.data.mnist import MNIST_FILES, load_mnist

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process ids are checked on POSIX only")

STALLED = "train-images-idx3-ubyte.gz"
CHILD = """
import json, sys
from vae_np.data.mnist import load_mnist
load_mnist(source="full", cache_dir=sys.argv[1], mirrors=[sys.argv[2]], files=json.loads(sys.argv[3]),
           timeout=120)
"""


def idx_gz(array):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes(), mtime=0)


y = np.arange(4) % 10
BLOBS = {"train-images-idx3-ubyte.gz": idx_gz(np.zeros((4, 28, 28))),
         "train-labels-idx1-ubyte.gz": idx_gz(y),
         "t10k-images-idx3-ubyte.gz": idx_gz(np.ones((4, 28, 28))),
         "t10k-labels-idx1-ubyte.gz": idx_gz(y)}
SUMS = {name: hashlib.sha256(b).hexdigest() for name, b in BLOBS.items()}
assert set(BLOBS) == set(MNIST_FILES)


class Server:
    """Serves BLOBS on 127.0.0.1; with ``stall``, the first file is 300 kB of which 200 kB are
    sent before the response stalls (until the server is closed)."""

    def __init__(self, stall=False):
        released = self.released = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                data = bytes(300_000) if stall and name == STALLED else BLOBS.get(name)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if stall and name == STALLED:
                    self.wfile.write(data[:200_000])
                    self.wfile.flush()
                    released.wait(120)
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def no_proxies(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def servers(no_proxies):
    stalled, good = Server(stall=True), Server()
    yield stalled, good
    stalled.close()
    good.close()


def start_stalled_download(cache, url):
    """A child downloading into ``cache``, returned once its ``.part`` file holds bytes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(cache), url, json.dumps(SUMS)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        parts = [p for p in cache.iterdir()] if cache.exists() else []
        parts = [p for p in parts if p.name.endswith(".part") and p.name.startswith(STALLED)]
        if parts and parts[0].stat().st_size > 0:
            return proc, parts[0]
        if proc.poll() is not None:
            raise AssertionError("the child exited: " + proc.stderr.read().decode()[-2000:])
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the child's download never started")


def kill9(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_download_killed_mid_file_is_swept_by_the_next_one(tmp_path, servers):
    stalled, good = servers
    cache = tmp_path / "cache"
    proc, part = start_stalled_download(cache, stalled.url)
    kill9(proc)
    assert part.exists() and part.stat().st_size >= 65536             # the leftover
    assert _tempfiles.temp_name_info(part.name)[1] == proc.pid
    data = load_mnist(source="full", cache_dir=cache, mirrors=[good.url], files=SUMS, timeout=10)
    assert data.X_train.shape == (4, 784)
    assert sorted(p.name for p in cache.iterdir()) == sorted(BLOBS)   # no .part left


def test_a_download_in_progress_in_another_process_keeps_its_part_file(tmp_path, servers):
    stalled, good = servers
    cache = tmp_path / "cache"
    proc, part = start_stalled_download(cache, stalled.url)
    try:
        load_mnist(source="full", cache_dir=cache, mirrors=[good.url], files=SUMS, timeout=10)
        assert part.exists(), "the .part file of a live download was removed"
        assert proc.poll() is None
    finally:
        kill9(proc)
    # once it is gone, a later download into the folder (here: everything cached) sweeps it
    load_mnist(source="full", cache_dir=cache, mirrors=[good.url], files=SUMS, timeout=10)
    assert sorted(p.name for p in cache.iterdir()) == sorted(BLOBS)
