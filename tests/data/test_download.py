"""The full-MNIST download path, against a local HTTP server on 127.0.0.1 started by the test.

The server serves four small IDX files (made here, gzipped) under the official names; the
expected SHA-256 sums are passed with ``load_mnist(..., files=...)``. Cases: success (and a
second call served from the cache with no network), checksum mismatch (clear error, nothing left
in the cache; another mirror is tried), a connection cut mid-file (no partial file; a retry
succeeds), a stalled server (bounded by ``timeout``), an offline machine (a clear message saying
how to place the files by hand), and a damaged file already in the cache.

Only loopback addresses are used, proxies are disabled for the test, and every request has a
short timeout, so the tests take about a second and never touch the network.
"""
import gzip
import hashlib
import http.server
import socket
import struct
import threading
import time

import numpy as np
import pytest

from vae_np.data.mnist import MNIST_FILES, DatasetError, load_mnist

N_TRAIN, N_TEST = 6, 4
TIMEOUT = 5.0


def idx_gz(array):
    """Gzipped IDX bytes of a uint8 array (1-D labels or 3-D images), like the MNIST files."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes(), mtime=0)


def make_files():
    """Images whose every pixel equals 10 * label, so a row can be matched to its label."""
    y_tr = np.arange(N_TRAIN) % 10
    y_te = (np.arange(N_TEST) + 3) % 10
    X_tr = np.repeat((10 * y_tr).astype(np.uint8)[:, None, None], 28 * 28).reshape(N_TRAIN, 28, 28)
    X_te = np.repeat((10 * y_te).astype(np.uint8)[:, None, None], 28 * 28).reshape(N_TEST, 28, 28)
    blobs = {"train-images-idx3-ubyte.gz": idx_gz(X_tr), "train-labels-idx1-ubyte.gz": idx_gz(y_tr),
             "t10k-images-idx3-ubyte.gz": idx_gz(X_te), "t10k-labels-idx1-ubyte.gz": idx_gz(y_te)}
    assert set(blobs) == set(MNIST_FILES)
    return blobs, (X_tr, y_tr, X_te, y_te)


BLOBS, ARRAYS = make_files()
SUMS = {name: hashlib.sha256(b).hexdigest() for name, b in BLOBS.items()}


class Server:
    """A tiny file server on 127.0.0.1 with switchable misbehaviour, one per test."""

    def __init__(self, blobs):
        self.blobs = dict(blobs)
        self.cut_next = set()         # names whose next response is cut after half the bytes
        self.stall = set()            # names whose response stalls after half the bytes
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                if name not in server.blobs:
                    self.send_error(404)
                    return
                data = server.blobs[name]
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if name in server.cut_next or name in server.stall:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    if name in server.stall:
                        time.sleep(3)
                    server.cut_next.discard(name)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server():
    s = Server(BLOBS)
    yield s
    s.close()


def closed_port_url():
    """A loopback URL on which nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def cache_contents(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def load(cache, mirrors, **kwargs):
    return load_mnist(source="full", cache_dir=cache, mirrors=mirrors, files=kwargs.pop(
        "files", SUMS), timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)


# ------------------------------------------------------------------------------------ success
def test_download_success_then_served_from_cache(tmp_path, server):
    cache = tmp_path / "cache"
    data = load(cache, [server.url])
    X_tr, y_tr, X_te, y_te = ARRAYS
    assert data.X_train.shape == (N_TRAIN, 784) and data.X_train.dtype == np.float32
    assert data.X_test.shape == (N_TEST, 784)
    np.testing.assert_array_equal(data.X_test, X_te.reshape(N_TEST, -1) / np.float32(255))
    np.testing.assert_array_equal(data.y_test, y_te)
    # The training set is shuffled with the seed, rows and labels together.
    assert sorted(data.y_train) == sorted(y_tr)
    np.testing.assert_allclose(data.X_train[:, 0] * 255, 10 * data.y_train, atol=1e-4)
    assert cache_contents(cache) == sorted(BLOBS)
    assert sorted(server.requests) == sorted(BLOBS)

    # Second call: no network needed, nothing downloaded again.
    again = load(cache, [closed_port_url()])
    np.testing.assert_array_equal(again.X_train, data.X_train)
    assert len(server.requests) == 4


def test_mirror_given_as_a_single_string(tmp_path, server):
    data = load(tmp_path / "cache", server.url)
    assert data.X_test.shape == (N_TEST, 784)


# ------------------------------------------------------------------------------------ checksum
def test_checksum_mismatch_is_clear_and_leaves_nothing(tmp_path, server):
    cache = tmp_path / "cache"
    server.blobs["train-images-idx3-ubyte.gz"] = BLOBS["train-images-idx3-ubyte.gz"][:-8] + bytes(8)
    with pytest.raises(DatasetError, match="checksum mismatch for .*train-images-idx3-ubyte.gz"
                                           r"(.|\n)*discarded"):
        load(cache, [server.url])
    assert cache_contents(cache) == []          # no bad file, no temp file


def test_checksum_mismatch_on_one_mirror_falls_back_to_the_next(tmp_path, server):
    bad = Server({**BLOBS, "t10k-labels-idx1-ubyte.gz": b"tampered"})
    try:
        data = load(tmp_path / "cache", [bad.url, server.url])
    finally:
        bad.close()
    np.testing.assert_array_equal(data.y_test, ARRAYS[3])
    assert cache_contents(tmp_path / "cache") == sorted(BLOBS)


def test_damaged_file_already_in_cache_is_reported(tmp_path, server):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "train-images-idx3-ubyte.gz").write_bytes(b"half a file")
    with pytest.raises(DatasetError, match="exists but its SHA-256 does not match.*delete it"):
        load(cache, [server.url])


# ------------------------------------------------------------------------------------ cut / stall
def test_connection_cut_mid_file_leaves_no_partial_file_and_a_retry_succeeds(tmp_path, server):
    cache = tmp_path / "cache"
    server.cut_next.add("t10k-images-idx3-ubyte.gz")
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz(.|\n)*was cut: got \d+ "
                                           r"of \d+ bytes"):
        load(cache, [server.url])
    left = cache_contents(cache)
    assert "t10k-images-idx3-ubyte.gz" not in left
    assert not [n for n in left if n.endswith((".part", ".tmp"))], left
    assert set(left) <= set(BLOBS)              # only complete, verified files were kept

    data = load(cache, [server.url])             # the retry
    np.testing.assert_array_equal(data.X_test, ARRAYS[2].reshape(N_TEST, -1) / np.float32(255))
    assert cache_contents(cache) == sorted(BLOBS)


def test_stalled_download_times_out_without_partial_file(tmp_path, server):
    cache = tmp_path / "cache"
    server.stall.add("train-images-idx3-ubyte.gz")
    t0 = time.monotonic()
    with pytest.raises(DatasetError, match="timed out"):
        load(cache, [server.url], timeout=0.5)
    assert time.monotonic() - t0 < 3
    assert cache_contents(cache) == []


# ------------------------------------------------------------------------------------ offline
def test_offline_message_says_how_to_place_the_files_by_hand(tmp_path):
    cache = tmp_path / "cache"
    t0 = time.monotonic()
    with pytest.raises(DatasetError) as info:
        load(cache, [closed_port_url(), closed_port_url()])
    assert time.monotonic() - t0 < TIMEOUT
    msg = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz from any mirror" in msg
    assert "Connection refused" in msg or "refused" in msg.lower()
    assert "offline" in msg and "place them in" in msg and str(cache) in msg
    for name in MNIST_FILES:
        assert name in msg
    assert "VAE_NP_DATA" in msg
    assert cache_contents(cache) == []

    # ... and following that advice works, with no network at all.
    for name, blob in BLOBS.items():
        (cache / name).write_bytes(blob)
    data = load(cache, [closed_port_url()])
    assert data.X_train.shape == (N_TRAIN, 784)


def test_bad_download_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="files must map each of"):
        load(tmp_path, ["http://127.0.0.1:9/"], files={"a.gz": "0" * 64})
    with pytest.raises(ValueError, match="mirrors is empty"):
        load(tmp_path, [])
