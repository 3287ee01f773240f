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
growth = None if resident_before is None else resident_after - resident_before
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


def verdict(value, target, unit):
    status = "meets" if value <= target else "MISSES"
    return f"target <= {target}{unit}: {status} it"


def row(label, figure, note=""):
    print(f"{label:<50}{figure:>10}   {note}")


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
    arrays, cold, warm = figures["array_bytes"], figures["cold"], figures["warm"]
    print(
        f"MNIST loading, medians of {runs} runs ({arrays / MEGABYTE:.1f} MB of arrays)"
    )
    row(
        "cold preparation (offline copy -> verified files)",
        f"{cold:.2f} s",
        verdict(cold, COLD_PREPARATION_TARGET_SECONDS, " s"),
    )
    row(
        "warm load_mnist",
        f"{warm:.3f} s",
        verdict(warm, WARM_LOAD_TARGET_SECONDS, " s"),
    )
    for name, key in [("np.fromfile", "read"), ("np.fromfile + md5", "read_and_hash")]:
        reference = figures[key]
        row(
            f"  reference: {name} of the same bytes",
            f"{reference:.3f} s",
            f"warm load takes {warm / reference:.1f}x as long",
        )
    peak_ratio = figures["peak"] / arrays
    row(
        "peak memory of a warm load (tracemalloc)",
        f"{figures['peak'] / MEGABYTE:.1f} MB",
        f"{peak_ratio:.2f}x the arrays, "
        + verdict(peak_ratio, PEAK_MEMORY_TARGET_RATIO, "x"),
    )
    growth = figures["rss_growth"]
    if growth is None:
        row("  peak resident size growth", "-", "not measured (needs /proc)")
    else:
        row(
            "  peak resident size growth (VmHWM)",
            f"{growth / MEGABYTE:.1f} MB",
            f"{growth / arrays:.2f}x the arrays",
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure")
    runs = parser.parse_args().runs
    report(measure(runs), runs)


if __name__ == "__main__":
    main()
