"""Tests of helpers.data: IDX files, the real MNIST arrays, the verified cache."""

import gzip
import hashlib
import logging
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.data import (
    MNIST_FILES,
    ChecksumError,
    IdxError,
    default_data_dir,
    idx_bytes,
    load_mnist,
    parse_idx,
    prepare_mnist,
    read_idx,
    verify_md5,
    write_atomically,
)

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
SHAPES = [(1,), (7,), (3, 4), (2, 3, 5), (0,), (4, 0, 2)]

# md5 and size of the four uncompressed standard files, as published
CANONICAL_FILES = {
    "train_images": ("6bbc9ace898e44ae57da46a324031adb", 47040016),
    "train_labels": ("a25bea736e30d166cdddb491f175f624", 60008),
    "test_images": ("2646ac647ad5339dbf082846283269ea", 7840016),
    "test_labels": ("27ae3e4e09519cfbb04c329615203637", 10008),
}
SPECS = {spec.field: spec for spec in MNIST_FILES}


def sample_array(dtype, shape, seed=0):
    """Return an array of dtype and shape spanning much of the dtype's range."""
    generator = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (generator.standard_normal(shape) * 1e3).astype(dtype)
    info = np.iinfo(dtype)
    return generator.integers(info.min, info.max, size=shape, endpoint=True).astype(
        dtype
    )


def write_file(folder, name, content, compress=False):
    """Write content (gzipped if asked) to folder/name and return the path."""
    path = folder / name
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def header(code, *shape, magic=0):
    """Return an IDX header for element type code and shape."""
    return struct.pack(f">HBB{len(shape)}I", magic, code, len(shape), *shape)


# --- round trips -------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", IDX_DTYPES, ids=lambda dtype: dtype.__name__)
def test_read_idx_round_trips(tmp_path, dtype, shape, compress):
    array = sample_array(dtype, shape)
    path = write_file(tmp_path, "array.idx", idx_bytes(array), compress)
    loaded = read_idx(path)
    assert loaded.dtype == array.dtype and loaded.dtype.isnative
    assert loaded.shape == shape
    np.testing.assert_array_equal(loaded, array)


def test_read_idx_accepts_str_paths(tmp_path):
    array = sample_array(np.uint8, (2, 2))
    path = write_file(tmp_path, "array.idx", idx_bytes(array))
    np.testing.assert_array_equal(read_idx(str(path)), array)


def test_idx_bytes_writes_a_big_endian_header_and_data():
    encoded = idx_bytes(np.array([[1, 2, 3]], dtype=np.int16))
    assert encoded == bytes.fromhex("00000b02" "00000001" "00000003" "000100020003")


def test_idx_bytes_ignores_the_byte_order_of_its_input():
    array = sample_array(np.int32, (3, 5))
    assert idx_bytes(array.astype(">i4")) == idx_bytes(array.astype("<i4"))


def test_idx_bytes_refuses_what_idx_cannot_store():
    with pytest.raises(TypeError, match="int64"):
        idx_bytes(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="0"):
        idx_bytes(np.uint8(3))


def test_real_file_header_is_the_standard_one():
    with open(default_data_dir() / "train-images-idx3-ubyte", "rb") as file:
        assert file.read(16) == header(0x08, 60000, 28, 28)


# --- malformed input ---------------------------------------------------------


def test_idx_error_is_a_value_error():
    assert issubclass(IdxError, ValueError)


BAD_IDX_FILES = {
    "truncated payload": (header(0x08, 2, 3) + bytes(5), "truncated"),
    "over-long payload": (header(0x08, 2, 3) + bytes(7), "longer than its header"),
    "wrong magic number": (header(0x08, 2, magic=0x0100) + bytes(2), "magic number"),
    "unknown element type": (header(0x0A, 2) + bytes(2), "element type 0x0a"),
    "zero dimensions": (header(0x08) + bytes(1), "no dimensions"),
    "header cut short": (header(0x08, 2, 3, 4)[:-4], "declares 3 dimensions"),
    "header under 4 bytes": (b"\x00\x00\x08", "3 bytes, too short"),
    "empty file": (b"", "0 bytes, too short"),
    "shape overflowing 64 bits": (header(0x08, 2**31, 2**31, 4), "truncated"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", BAD_IDX_FILES, ids=str)
def test_read_idx_names_the_file_and_the_problem(tmp_path, case, compress):
    content, problem = BAD_IDX_FILES[case]
    path = write_file(tmp_path, "bad.idx", content, compress)
    with pytest.raises(IdxError, match=problem) as raised:
        read_idx(path)
    assert str(path) in str(raised.value)


def corrupt_gzip_files():
    """Return gzip-looking contents that do not decompress."""
    valid = gzip.compress(idx_bytes(sample_array(np.uint8, (50,))))
    bad_checksum = bytearray(valid)
    bad_checksum[-8] ^= 0xFF
    return {
        "garbage after the magic": b"\x1f\x8b" + b"this is not deflate data" * 4,
        "only the magic": b"\x1f\x8b",
        "stream cut short": valid[: len(valid) // 2],
        "wrong crc": bytes(bad_checksum),
    }


@pytest.mark.parametrize("case", corrupt_gzip_files(), ids=str)
def test_read_idx_reports_corrupt_gzip(tmp_path, case):
    path = write_file(tmp_path, "bad.idx.gz", corrupt_gzip_files()[case])
    with pytest.raises(IdxError, match="corrupt gzip") as raised:
        read_idx(path)
    assert str(path) in str(raised.value)


def test_read_idx_refuses_a_folder(tmp_path):
    with pytest.raises(IdxError, match="is a folder") as raised:
        read_idx(tmp_path)
    assert str(tmp_path) in str(raised.value)


def test_parse_idx_names_its_source():
    with pytest.raises(IdxError, match="^labels.idx: "):
        parse_idx(b"", source="labels.idx")


# --- fuzzing -----------------------------------------------------------------


@st.composite
def idx_files(draw):
    """Valid IDX contents of a small array of any IDX element type."""
    dtype = np.dtype(draw(st.sampled_from(IDX_DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    size = int(np.prod(shape)) * dtype.itemsize
    data = draw(st.binary(min_size=size, max_size=size))
    return idx_bytes(np.frombuffer(data, dtype=dtype).reshape(shape))


def flip_header_byte(draw, content):
    position = draw(st.integers(0, 4 + 4 * content[3] - 1))
    content[position] ^= draw(st.integers(1, 255))


def change_dimension(draw, content):
    start = 4 + 4 * draw(st.integers(0, content[3] - 1))
    content[start : start + 4] = struct.pack(">I", draw(st.integers(0, 2**32 - 1)))


def truncate(draw, content):
    del content[draw(st.integers(0, len(content) - 1)) :]


def extend(draw, content):
    content += draw(st.binary(min_size=1, max_size=16))


MUTATIONS = [flip_header_byte, change_dimension, truncate, extend]


@st.composite
def mutated_idx_files(draw):
    """Valid IDX contents with one mutation applied: (mutation name, bytes)."""
    content = bytearray(draw(idx_files()))
    mutation = draw(st.sampled_from(MUTATIONS))
    mutation(draw, content)
    return mutation.__name__, bytes(content)


def parse_or_idx_error(content, source="<bytes>"):
    """Return the parsed array, or None when parse_idx raises IdxError."""
    try:
        return parse_idx(content, source)
    except IdxError as error:
        assert str(error).startswith(source)
        return None


FUZZ = settings(max_examples=150, deadline=None)
FUZZ_FILES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(st.binary(max_size=80))
def test_parse_idx_fuzz_arbitrary_bytes(content):
    array = parse_or_idx_error(content)
    if array is not None:
        assert idx_bytes(array) == content


@FUZZ
@given(idx_files())
def test_parse_idx_fuzz_valid_files_round_trip(content):
    assert idx_bytes(parse_idx(content)) == content


@FUZZ
@given(mutated_idx_files())
def test_parse_idx_fuzz_mutated_headers(mutated):
    mutation, content = mutated
    array = parse_or_idx_error(content)
    if mutation in ("truncate", "extend"):
        assert array is None, f"{mutation} went unnoticed"
    elif array is not None:
        assert idx_bytes(array) == content


def assert_read_back_or_refused(path, content):
    """read_idx either refuses path with an IdxError naming it, or reads content."""
    try:
        array = read_idx(path)
    except IdxError as error:
        assert str(path) in str(error)
        return
    assert idx_bytes(array) == content


@FUZZ_FILES
@given(content=st.binary(max_size=80), gzip_magic=st.booleans())
def test_read_idx_fuzz_arbitrary_files(tmp_path, content, gzip_magic):
    content = (b"\x1f\x8b" if gzip_magic else b"") + content
    path = write_file(tmp_path, "fuzz.idx", content)
    assert_read_back_or_refused(path, content)


@FUZZ_FILES
@given(mutated=mutated_idx_files(), data=st.data())
def test_read_idx_fuzz_mutated_gzip_files(tmp_path, mutated, data):
    _, content = mutated
    compressed = bytearray(gzip.compress(content))
    position = data.draw(st.integers(2, len(compressed) - 1), label="position")
    compressed[position] ^= data.draw(st.integers(0, 255), label="flip")
    path = write_file(tmp_path, "fuzz.idx.gz", bytes(compressed))
    assert_read_back_or_refused(path, content)


# --- the real MNIST ----------------------------------------------------------


@pytest.mark.parametrize(
    "field, shape",
    [
        ("train_images", (60000, 28, 28)),
        ("train_labels", (60000,)),
        ("test_images", (10000, 28, 28)),
        ("test_labels", (10000,)),
    ],
)
def test_mnist_shapes_and_dtypes(mnist, field, shape):
    array = getattr(mnist, field)
    assert array.shape == shape
    assert array.dtype == np.uint8


def test_mnist_first_labels(mnist):
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_labels[0] == 7


def test_mnist_test_label_counts(mnist):
    counts = np.bincount(mnist.test_labels, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_pixels_span_0_to_255(mnist):
    assert mnist.test_images.min() == 0 and mnist.test_images.max() == 255


@pytest.mark.parametrize("field", CANONICAL_FILES)
def test_mnist_arrays_reproduce_the_standard_files(mnist, field):
    encoded = idx_bytes(getattr(mnist, field))
    md5, size = CANONICAL_FILES[field]
    assert len(encoded) == size
    assert hashlib.md5(encoded).hexdigest() == md5


@pytest.mark.parametrize("field", CANONICAL_FILES)
def test_specs_carry_the_canonical_checksums(field):
    assert (SPECS[field].md5, SPECS[field].size) == CANONICAL_FILES[field]


# --- the verified cache ------------------------------------------------------


def cut_last_bytes(path):
    path.write_bytes(path.read_bytes()[:-100])


def flip_middle_byte(path):
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))


def append_zeros(path):
    with open(path, "ab") as file:
        file.write(bytes(16))


def empty(path):
    path.write_bytes(b"")


def file_md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def file_identity(path):
    status = path.stat()
    return status.st_ino, status.st_mtime_ns


def assert_same_arrays(loaded, expected):
    for field in CANONICAL_FILES:
        np.testing.assert_array_equal(getattr(loaded, field), getattr(expected, field))


def assert_only_the_four_files(folder):
    assert sorted(os.listdir(folder)) == sorted(spec.name for spec in MNIST_FILES)


@pytest.mark.parametrize(
    "damage, field",
    [
        (cut_last_bytes, "train_labels"),
        (flip_middle_byte, "test_images"),
        (append_zeros, "test_labels"),
        (empty, "train_labels"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_load_mnist_replaces_a_damaged_file(data_copy, mnist, caplog, damage, field):
    damaged = data_copy / SPECS[field].name
    untouched = {
        spec.name: file_identity(data_copy / spec.name)
        for spec in MNIST_FILES
        if spec.field != field
    }
    damage(damaged)
    with caplog.at_level(logging.WARNING, logger="helpers.data"):
        loaded = load_mnist(data_copy)
    warnings = [record.getMessage() for record in caplog.records]
    assert any("damaged" in text and str(damaged) in text for text in warnings)
    assert file_md5(damaged) == CANONICAL_FILES[field][0]
    assert_same_arrays(loaded, mnist)
    assert_only_the_four_files(data_copy)
    for name, identity in untouched.items():
        assert file_identity(data_copy / name) == identity, f"{name} was rewritten"


def test_load_mnist_obtains_a_missing_file_quietly(data_copy, mnist, caplog):
    (data_copy / SPECS["test_labels"].name).unlink()
    with caplog.at_level(logging.WARNING):
        loaded = load_mnist(data_copy)
    assert not caplog.records
    assert_same_arrays(loaded, mnist)
    assert_only_the_four_files(data_copy)


def test_prepare_mnist_fills_an_empty_folder(tmp_path):
    folder = tmp_path / "fresh" / "mnist"
    assert prepare_mnist(folder) == folder
    assert_only_the_four_files(folder)
    for field, (md5, _) in CANONICAL_FILES.items():
        assert file_md5(folder / SPECS[field].name) == md5


def test_data_folder_comes_from_the_environment(data_copy, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_copy))
    assert default_data_dir() == data_copy
    assert prepare_mnist() == data_copy


def test_verify_md5_names_the_source():
    assert issubclass(ChecksumError, ValueError)
    verify_md5(b"abc", hashlib.md5(b"abc").hexdigest(), "x")
    with pytest.raises(ChecksumError, match="^somewhere: md5 "):
        verify_md5(b"abc", "0" * 32, "somewhere")


# --- atomic writes -----------------------------------------------------------


@pytest.fixture
def usual_umask():
    previous = os.umask(0o022)
    yield 0o022
    os.umask(previous)


def test_write_atomically_writes_with_the_usual_mode(tmp_path, usual_umask):
    path = tmp_path / "new" / "file.bin"
    write_atomically(path, b"content")
    assert path.read_bytes() == b"content"
    assert path.stat().st_mode & 0o777 == 0o666 & ~usual_umask
    assert os.listdir(path.parent) == ["file.bin"]


def test_write_atomically_replaces_an_old_file(tmp_path):
    path = write_file(tmp_path, "file.bin", b"old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["file.bin"]


def refuse_to_replace(source, destination):
    raise OSError("replace refused")


def test_write_atomically_cleans_up_when_the_rename_fails(tmp_path, monkeypatch):
    path = write_file(tmp_path, "file.bin", b"old")
    monkeypatch.setattr(os, "replace", refuse_to_replace)
    with pytest.raises(OSError, match="replace refused"):
        write_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.bin"]


def test_write_atomically_cleans_up_when_the_write_fails(tmp_path):
    path = write_file(tmp_path, "file.bin", b"old")
    with pytest.raises(TypeError):
        write_atomically(path, "text is not bytes")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.bin"]
