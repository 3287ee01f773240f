"""Print how fast the workbook's networks train with MXNet, beside PyTorch.

Both networks train on the 60,000 training images, batch 100, with the
recipes of helpers.pretrained (SGD with momentum 0.9, weight decay, a cosine
learning rate per batch, Xavier init), their cosine spanning --epochs, on the
digits as they are (--shifts adds the recipes' random shifts). The test set
is scored after every epoch; only training time is counted. When PyTorch is
importable, the same networks, initialisation, recipe and data train in
PyTorch in the same runs, alternating with MXNet, so that whatever else loads
the machine weighs on both alike. Both use --threads threads, one per
physical core unless told otherwise.
"""

import argparse
import dataclasses
import importlib.util
import os
import statistics
from pathlib import Path

TARGET_ACCURACY = {"lenet": 0.990, "mlp": 0.975}
RATIO_GOAL = {"lenet": 1.25, "mlp": 1.5}  # MXNet samples/s over PyTorch's
DEFAULT_EPOCHS = {"lenet": 3, "mlp": 4}
DEFAULT_RUNS = 2
NETWORKS = ("lenet", "mlp")


def physical_cores():
    """Cores this process may use, two hyperthreads of a core counted once."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if not cpus:
        return os.cpu_count() or 1
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return len(cpus)
        cores.add((package, core))
    return len(cores)


def plural(count, noun):
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclasses.dataclass
class Run:
    """Per-epoch figures of one training run of one framework."""

    seconds: list
    samples_per_second: list
    test_accuracy: list

    def seconds_to(self, target):
        """Training seconds until the test accuracy first reached target."""
        elapsed = 0.0
        for seconds, accuracy in zip(self.seconds, self.test_accuracy):
            elapsed += seconds
            if accuracy >= target:
                return elapsed
        return None


def run_mxnet(name, mnist, recipe):
    from helpers.augment import training_iterator
    from helpers.iterators import mnist_iterators
    from helpers.training import fit

    train_iter = training_iterator(mnist.train_images, mnist.train_labels, recipe)
    _, test_iter = mnist_iterators(mnist, recipe.batch_size)
    _, history = fit(name, train_iter, test_iter, recipe, report=None)
    return Run(history.seconds, history.samples_per_second, history.test_accuracy)


def run_torch(name, mnist, recipe):
    import torch_reference

    trainer = torch_reference.Trainer(name, mnist, recipe)
    run = Run([], [], [])
    for _ in range(recipe.num_epochs):
        _, _, seconds, samples = trainer.train_one_epoch()
        run.seconds.append(seconds)
        run.samples_per_second.append(samples / seconds)
        run.test_accuracy.append(trainer.test_accuracy())
    return run


def describe(framework, run_index, runs, name, run):
    speeds = ", ".join(f"{speed:,.0f}" for speed in run.samples_per_second)
    accuracies = ", ".join(f"{accuracy:.4f}" for accuracy in run.test_accuracy)
    print(
        f"  run {run_index}/{runs} {name} {framework}: samples/s by epoch {speeds}; "
        f"test accuracy {accuracies}",
        flush=True,
    )


def measure(name, mnist, recipe, runs, with_torch):
    """Train name runs times per framework; return {framework: [Run]}."""
    frameworks = {"MXNet": run_mxnet}
    if with_torch:
        frameworks["PyTorch"] = run_torch
    results = {framework: [] for framework in frameworks}
    for run_index in range(1, runs + 1):
        for framework, train in frameworks.items():
            run = train(name, mnist, recipe)
            results[framework].append(run)
            describe(framework, run_index, runs, name, run)
    return results


def median_speed(runs):
    return statistics.median(speed for run in runs for speed in run.samples_per_second)


def time_to_target(runs, target):
    times = [run.seconds_to(target) for run in runs]
    reached = [seconds for seconds in times if seconds is not None]
    if not reached:
        best = max(max(run.test_accuracy) for run in runs)
        return f"not reached (best {best:.4f})"
    note = "" if len(reached) == len(times) else f" in {len(reached)}/{len(times)} runs"
    return f"{statistics.median(reached):.1f} s{note}"


def report(name, results, epochs):
    target = TARGET_ACCURACY[name]
    print(f"{name}, {plural(epochs, 'epoch')} per run:")
    print(f"  {'':9}{'samples/s':>12}  time to {target:.1%} test accuracy")
    for framework, runs in results.items():
        print(
            f"  {framework:9}{median_speed(runs):>12,.0f}  "
            f"{time_to_target(runs, target)}"
        )
    if "PyTorch" in results:
        ratio = median_speed(results["MXNet"]) / median_speed(results["PyTorch"])
        status = "met" if ratio >= RATIO_GOAL[name] else "NOT met"
        print(
            f"  MXNet/PyTorch samples/s: {ratio:.2f}x "
            f"(goal >= {RATIO_GOAL[name]}x: {status})"
        )


def torch_setup(wanted, threads):
    """Return (use torch, a line saying how) after setting PyTorch's threads."""
    if not wanted:
        return False, "PyTorch comparison skipped (--no-torch)."
    if importlib.util.find_spec("torch") is None:
        return False, (
            "PyTorch is not installed, so MXNet figures only. For the comparison, "
            "install its CPU build into this environment (pip install torch "
            "--index-url https://download.pytorch.org/whl/cpu) and run this again."
        )
    import torch

    torch.set_num_threads(threads)
    threads = plural(torch.get_num_threads(), "thread")
    return True, f"PyTorch {torch.__version__} with {threads}."


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--network", choices=["both", *NETWORKS], default="both", help="default both"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=f"epochs per run (default {DEFAULT_EPOCHS}); the cosine spans them",
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="per network")
    parser.add_argument(
        "--threads",
        type=int,
        default=physical_cores(),
        help="OpenMP threads of MXNet and PyTorch (default: physical cores)",
    )
    parser.add_argument("--no-torch", action="store_true", help="MXNet only")
    parser.add_argument(
        "--shifts", action="store_true", help="shift digits as the recipes do"
    )
    return parser.parse_args()


def main():
    arguments = parse_arguments()
    # MXNet reads its thread count once, when it is loaded: set it first. Left
    # alone, MXNet 1.9 takes half the CPUs, taking every second one for a
    # hyperthread, which on a machine without hyperthreads is half the cores.
    os.environ["OMP_NUM_THREADS"] = str(arguments.threads)
    from helpers.compat import import_mxnet
    from helpers.data import load_mnist
    from helpers.pretrained import RECIPES

    mx = import_mxnet()
    with_torch, torch_line = torch_setup(not arguments.no_torch, arguments.threads)
    print(
        f"MXNet {mx.__version__} with {plural(arguments.threads, 'OpenMP thread')}, "
        f"{physical_cores()} physical cores, load average "
        f"{os.getloadavg()[0]:.1f} at the start. {torch_line}"
    )
    digits = "randomly shifted digits" if arguments.shifts else "unshifted digits"
    print(
        f"Batch 100, 60,000 training images ({digits}); "
        "samples/s are medians over every epoch of every run."
    )
    mnist = load_mnist()
    names = NETWORKS if arguments.network == "both" else [arguments.network]
    for name in names:
        epochs = arguments.epochs or DEFAULT_EPOCHS[name]
        recipe = RECIPES[name]
        recipe = dataclasses.replace(
            recipe,
            num_epochs=epochs,
            max_shift=recipe.max_shift if arguments.shifts else 0,
        )
        results = measure(name, mnist, recipe, arguments.runs, with_torch)
        report(name, results, epochs)
    print(f"Load average {os.getloadavg()[0]:.1f} at the end.")


if __name__ == "__main__":
    main()
