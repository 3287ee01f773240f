"""Print how fast MNIST is prepared and loaded, and how much memory a load takes."""

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from helpers.data import MNIST_FILES, default_data_dir, load_mnist, prepare_mnist

WARM_LOAD_TARGET_SECONDS = 0.3
COLD_PREPARATION_TARGET_SECONDS = 10
PEAK_MEMORY_TARGET_RATIO = 3
MEGABYTE = 1e6

# Run in a fresh interpreter, so that nothing loaded before skews the peak.
# VmHWM is the process's peak resident size; unlike ru_maxrss, it does not
# inherit the parent's size across fork and exec. Linux only.
MEASURE_WARM_LOAD_MEMORY = """
import json, sys, tracemalloc
from helpers.data import load_mnist

def peak_resident_bytes():
    try:
        with open("/proc/self/status") as status:
            fields = dict(line.split(":", 1) for line in status)
    except OSError:
        return None
    return int(fields["VmHWM"].split()[0]) * 1024

resident_before = peak_resident_bytes()
tracemalloc.start()
mnist = load_mnist(sys.argv[1])
_, peak = tracemalloc.get_traced_memory()
resident_after = peak_resident_bytes()
growth = resident_before and resident_after - resident_before
print(json.dumps({"peak": peak, "rss_growth": growth}))
"""


def seconds_of(action):
    """Return the wall-clock seconds one call of action takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_seconds(action, runs):
    return statistics.median(seconds_of(action) for _ in range(runs))


def cold_preparation_seconds():
    """Time preparing verified files from the offline copy in a fresh folder."""
    with tempfile.TemporaryDirectory() as folder:
        return seconds_of(lambda: prepare_mnist(folder, mirrors=()))


def read_files(data_dir):
    """The reference: read the four files' bytes with numpy, checking nothing."""
    return [np.fromfile(data_dir / spec.name, dtype=np.uint8) for spec in MNIST_FILES]


def read_and_hash_files(data_dir):
    """A second reference: read the bytes and compute their md5s."""
    return [hashlib.md5(content).hexdigest() for content in read_files(data_dir)]


def warm_load_memory(data_dir):
    """Return the tracemalloc peak and RSS growth of one load, in bytes."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_WARM_LOAD_MEMORY, str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def median_or_none(values):
    values = list(values)
    return None if None in values else statistics.median(values)


def array_bytes(mnist):
    return sum(getattr(mnist, spec.field).nbytes for spec in MNIST_FILES)


def verdict(value, target):
    return "meets target" if value <= target else "MISSES target"


def measure(runs):
    """Return every figure of the benchmark, as medians over runs."""
    data_dir = prepare_mnist(default_data_dir())
    memory = [warm_load_memory(data_dir) for _ in range(runs)]
    return {
        "array_bytes": array_bytes(load_mnist(data_dir)),
        "cold": statistics.median(cold_preparation_seconds() for _ in range(runs)),
        "warm": median_seconds(lambda: load_mnist(data_dir), runs),
        "read": median_seconds(lambda: read_files(data_dir), runs),
        "read_and_hash": median_seconds(lambda: read_and_hash_files(data_dir), runs),
        "peak": statistics.median(run["peak"] for run in memory),
        "rss_growth": median_or_none(run["rss_growth"] for run in memory),
    }


def report(figures, runs):
    """Print the figures beside their targets and references."""
    arrays = figures["array_bytes"]
    cold, warm = figures["cold"], figures["warm"]
    peak_ratio = figures["peak"] / arrays
    print(f"MNIST loading: medians of {runs} runs; the four arrays hold")
    print(f"{arrays / MEGABYTE:.1f} MB\n")
    print(
        f"cold preparation (offline copy -> verified files): {cold:6.2f} s   "
        f"target <= {COLD_PREPARATION_TARGET_SECONDS} s: "
        f"{verdict(cold, COLD_PREPARATION_TARGET_SECONDS)}"
    )
    print(
        f"warm load_mnist:                                   {warm:6.3f} s   "
        f"target <= {WARM_LOAD_TARGET_SECONDS} s: "
        f"{verdict(warm, WARM_LOAD_TARGET_SECONDS)}"
    )
    for name, key in [("np.fromfile", "read"), ("np.fromfile + md5", "read_and_hash")]:
        print(
            f"  reference, {name} of the same bytes: {figures[key]:6.3f} s   "
            f"warm load takes {warm / figures[key]:.1f}x as long"
        )
    print(
        f"peak memory of a warm load (tracemalloc): {figures['peak'] / MEGABYTE:6.1f} MB"
        f" = {peak_ratio:.2f}x the arrays   target <= {PEAK_MEMORY_TARGET_RATIO}x: "
        f"{verdict(peak_ratio, PEAK_MEMORY_TARGET_RATIO)}"
    )
    growth = figures["rss_growth"]
    if growth is None:
        print("  peak resident memory growth: not measured (needs /proc)")
        return
    print(
        f"  peak resident memory growth of the same load: {growth / MEGABYTE:6.1f} MB"
        f" = {growth / arrays:.2f}x the arrays"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure")
    runs = parser.parse_args().runs
    report(measure(runs), runs)


if __name__ == "__main__":
    main()
