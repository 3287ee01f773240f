"""Shared fixtures: the real MNIST arrays, copies of the data folder, local mirrors."""

import dataclasses
import gzip
import http.server
import shutil
import socket
import threading

import numpy as np
import pytest

from helpers.data import MNIST_FILES, default_data_dir, idx_bytes, load_mnist, md5_of


def closed_loopback_url():
    """Return a loopback URL on a port that is bound but refuses connections."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    return holder, f"http://127.0.0.1:{holder.getsockname()[1]}/"


@pytest.fixture(autouse=True)
def no_internet_mirrors(monkeypatch):
    """Point $MNIST_MIRRORS at a dead loopback port so no test leaves the machine."""
    holder, url = closed_loopback_url()
    monkeypatch.setenv("MNIST_MIRRORS", url)
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(variable, "127.0.0.1")
    yield url
    holder.close()


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST arrays, loaded once for the whole session."""
    holder, url = closed_loopback_url()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_MIRRORS", url)
        arrays = load_mnist()
    holder.close()
    return arrays


@pytest.fixture
def data_copy(mnist, tmp_path):
    """A private copy of the prepared data folder, safe to damage."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for spec in MNIST_FILES:
        shutil.copyfile(default_data_dir() / spec.name, folder / spec.name)
    return folder


@dataclasses.dataclass
class TinyFile:
    """A small stand-in for one MNIST file: its spec, raw and gzipped bytes."""

    spec: object
    raw: bytes
    compressed: bytes


def make_tiny_file(spec, seed):
    """Return a TinyFile whose spec keeps spec's field but checks small bytes."""
    labels = np.random.default_rng(seed).integers(0, 10, size=20 + seed, dtype=np.uint8)
    raw = idx_bytes(labels)
    compressed = gzip.compress(raw, mtime=0)
    tiny_spec = dataclasses.replace(
        spec,
        name=f"tiny-{spec.name}",
        md5=md5_of(raw),
        size=len(raw),
        gzip_md5=md5_of(compressed),
        shape=labels.shape,
    )
    return TinyFile(tiny_spec, raw, compressed)


@pytest.fixture
def tiny_files():
    """Two small fake MNIST files, so that nothing big is ever served."""
    return [make_tiny_file(spec, seed) for seed, spec in enumerate(MNIST_FILES[:2])]


@dataclasses.dataclass
class Reply:
    """What a local mirror answers: status, body, and an optional false length."""

    status: int = 200
    body: bytes = b""
    declared_length: int = None


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """Answers GET requests from the replies queued on its server."""

    def do_GET(self):
        self.server.requests.append(self.path)
        reply = self.server.next_reply(self.path)
        self.send_response(reply.status)
        length = reply.declared_length or len(reply.body)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(reply.body)
        self.close_connection = True

    def log_message(self, format, *args):
        pass


class LocalMirror(http.server.ThreadingHTTPServer):
    """An HTTP mirror on 127.0.0.1 whose replies each test chooses per path."""

    daemon_threads = True

    def __init__(self, prefix="/mnist/"):
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.prefix = prefix
        self.replies = {}
        self.requests = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}{self.prefix}"

    def path_of(self, name):
        return self.prefix.rstrip("/") + "/" + name

    def serve(self, name, body, status=200):
        """Answer every request for name with body."""
        self.replies[self.path_of(name)] = [Reply(status, body)]

    def serve_cut_short_once(self, name, body):
        """Cut the first answer for name short of its Content-Length, then serve it."""
        cut = Reply(200, body[: len(body) // 2], declared_length=len(body))
        self.replies[self.path_of(name)] = [cut, Reply(200, body)]

    def next_reply(self, path):
        queue = self.replies.get(path)
        if not queue:
            return Reply(404, b"not found")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def requests_for(self, name):
        return self.requests.count(self.path_of(name))


@pytest.fixture
def start_mirror():
    """Start local mirrors on random free ports; stop them after the test."""
    mirrors = []

    def start(prefix="/mnist/"):
        mirror = LocalMirror(prefix)
        threading.Thread(target=mirror.serve_forever, args=(0.05,), daemon=True).start()
        mirrors.append(mirror)
        return mirror

    yield start
    for mirror in mirrors:
        mirror.shutdown()
        mirror.server_close()
