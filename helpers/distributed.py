"""Train with data parallelism: several devices, or several processes and a kvstore.

``python -m helpers.distributed`` trains in this process (``--kv-store local``
or ``device``); started by ``python -m helpers.launch`` with ``--kv-store
dist_sync`` or ``dist_async``, each worker trains on its own shard of MNIST.
``kvstore_diagram()`` draws how the kinds of kvstore move gradients and weights.
"""

import argparse
import dataclasses
import json
import logging
import os
import sys
import traceback
from functools import partial
from pathlib import Path

import numpy as np

from helpers.compat import import_mxnet
from helpers.data import load_mnist, write_atomically
from helpers.augment import training_iterator
from helpers.iterators import make_iterator
from helpers.pretrained import RECIPES
from helpers.training import fit

mx = import_mxnet()  # a launched server or scheduler serves here and exits
log = logging.getLogger(__name__)

KV_STORES = ("local", "device", "dist_sync", "dist_async")
CRASH_EXIT_CODE = 3
LAUNCH_HINT = (
    "start the workers with the launcher, e.g. `python -m helpers.launch -n 2 "
    "-s 1 --launcher local python -m helpers.distributed --kv-store dist_sync`"
)


class CrashAfter(mx.io.DataIter):
    """Pass on the batches of an iterator, then end the process abruptly.

    It stands in for a worker that crashes mid-training, so that the
    launcher's handling of a dead worker can be tried and tested.
    """

    def __init__(self, inner, num_batches):
        super().__init__(inner.batch_size)
        self.inner, self.remaining = inner, num_batches
        self.provide_data, self.provide_label = inner.provide_data, inner.provide_label
        self.num_data = inner.num_data

    def reset(self):
        self.inner.reset()

    def next(self):
        if self.remaining == 0:
            log.error("crashing on purpose (--fail-after-batches)")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(CRASH_EXIT_CODE)  # no clean-up: a crash leaves none
        self.remaining -= 1
        return self.inner.next()


def parse_contexts(text):
    """Turn "cpu", "gpu:0,gpu:1" or "cpu:0,cpu:1" into a list of mx.Context."""
    contexts = []
    for item in text.split(","):
        kind, _, index = item.strip().partition(":")
        if kind not in ("cpu", "gpu") or not (index.isdigit() or index == ""):
            raise argparse.ArgumentTypeError(
                f"bad context {item!r}: write cpu, cpu:0, gpu:1 or a comma list"
            )
        contexts.append(mx.Context(kind, int(index or 0)))
    return contexts


def positive_int(text):
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def build_parser():
    """The command-line options of ``python -m helpers.distributed``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.distributed", description=__doc__.split("\n")[0]
    )
    add = parser.add_argument
    add("--network", choices=sorted(RECIPES), default="mlp")
    add("--kv-store", choices=KV_STORES, default="local")
    add("--num-epochs", type=positive_int, default=1)
    add("--batch-size", type=positive_int, default=100, help="per worker")
    add("--learning-rate", type=float, help="default: the network's recipe")
    add("--train-subset", type=positive_int, help="train on this many images")
    add("--max-shift", type=int, help="shift digits by up to N pixels (recipe's)")
    add("--seed", type=int, default=42)
    add("--contexts", type=parse_contexts, help='e.g. "cpu:0,cpu:1", "gpu:0"')
    add("--output", type=Path, help="write PREFIX-workerR.params and .json")
    add("--fail-after-batches", type=int, metavar="N", help="crash (for tests)")
    add("--fail-rank", type=int, default=1, help="which worker crashes")
    return parser


def parse_arguments(argv=None):
    """Parse and check the command line."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.fail_after_batches is not None and arguments.fail_after_batches < 0:
        parser.error("--fail-after-batches must be 0 or more")
    return arguments


def shard_indices(num_samples, rank, num_workers, seed=42, subset=None):
    """Return the training indices of worker rank out of num_workers.

    The indices are shuffled with seed, cut to the first subset of them,
    then dealt out in turn: together the workers hold each index once.
    """
    if not 0 <= rank < num_workers:
        raise ValueError(f"rank {rank} is not in 0..{num_workers - 1}")
    order = np.random.default_rng(seed).permutation(num_samples)
    if subset is not None:
        if not 0 < subset <= num_samples:
            raise ValueError(f"subset {subset} is not in 1..{num_samples}")
        order = order[:subset]
    if len(order) < num_workers:
        raise ValueError(f"{len(order)} samples cannot feed {num_workers} workers")
    return order[rank::num_workers]


def padded_shard(indices, total, num_workers):
    """Repeat the first index of a short shard so that all shards are as long.

    Under dist_sync every worker must run the same number of batches, or
    the one with more waits for the others forever.
    """
    length = -(-total // num_workers)
    return np.resize(indices, length)


def create_kvstore(name):
    """Return the kvstore name for one process, or a created dist kvstore."""
    launched = os.environ.get("DMLC_ROLE") == "worker"
    if name.startswith("dist"):
        if not launched:
            raise RuntimeError(f"--kv-store {name} needs a launcher: {LAUNCH_HINT}")
        return mx.kv.create(name)
    if launched:
        raise RuntimeError(
            f"this process was started as a worker, but --kv-store is {name}: "
            "pass --kv-store dist_sync or dist_async"
        )
    return name


def recipe_for(arguments):
    """The network's recipe with the epochs, batch size, rate and shift asked for."""
    recipe = RECIPES[arguments.network]
    chosen = {
        "num_epochs": arguments.num_epochs,
        "batch_size": arguments.batch_size,
        "learning_rate": arguments.learning_rate,
        "max_shift": arguments.max_shift,
        "seed": arguments.seed,
    }
    return dataclasses.replace(
        recipe, **{name: value for name, value in chosen.items() if value is not None}
    )


def worker_iterators(mnist, recipe, arguments, rank, num_workers):
    """Return (train_iter, test_iter) over this worker's shard and the test set."""
    total = arguments.train_subset or len(mnist.train_labels)
    indices = shard_indices(
        len(mnist.train_labels), rank, num_workers, recipe.seed, total
    )
    indices = padded_shard(indices, total, num_workers)
    train_images, train_labels = (
        mnist.train_images[indices],
        mnist.train_labels[indices],
    )
    train_iter = training_iterator(train_images, train_labels, recipe)
    test_iter = make_iterator(mnist.test_images, mnist.test_labels, recipe.batch_size)
    if arguments.fail_after_batches is not None and rank == arguments.fail_rank:
        train_iter = CrashAfter(train_iter, arguments.fail_after_batches)
    return train_iter, test_iter


def output_paths(prefix, rank):
    """Where worker rank writes its parameters and its result."""
    prefix = Path(prefix)
    stem = f"{prefix.name}-worker{rank}"
    return prefix.with_name(stem + ".params"), prefix.with_name(stem + ".json")


def save_result(prefix, rank, module, result):
    """Write the module's parameters and the result dictionary, atomically."""
    params_path, result_path = output_paths(prefix, rank)
    params_path.parent.mkdir(parents=True, exist_ok=True)
    arg_params, aux_params = module.get_params()
    params = {f"arg:{k}": v for k, v in arg_params.items()}
    params.update({f"aux:{k}": v for k, v in aux_params.items()})
    temporary = params_path.with_name(f".{params_path.name}.{os.getpid()}")
    mx.nd.save(str(temporary), params)
    temporary.replace(params_path)
    write_atomically(result_path, (json.dumps(result, indent=1) + "\n").encode())
    return params_path, result_path


def train(arguments, kvstore, report=print):
    """Train this worker's share; return (module, result dictionary)."""
    is_dist = not isinstance(kvstore, str)
    rank, num_workers = (kvstore.rank, kvstore.num_workers) if is_dist else (0, 1)
    recipe = recipe_for(arguments)
    mnist = load_mnist()
    train_iter, test_iter = worker_iterators(
        mnist, recipe, arguments, rank, num_workers
    )
    prefix = f"worker {rank}/{num_workers} " if is_dist else ""
    module, history = fit(
        arguments.network,
        train_iter,
        test_iter,
        recipe,
        contexts=arguments.contexts,
        kvstore=kvstore,
        report=lambda line: report(prefix + line),
    )
    result = {
        "network": arguments.network,
        "kv_store": arguments.kv_store,
        "rank": rank,
        "num_workers": num_workers,
        "train_samples": train_iter.num_data,
        "batch_size": recipe.batch_size,
        "learning_rate": recipe.learning_rate,
        "test_accuracy": history.test_accuracy[-1],
        "history": dataclasses.asdict(history),
    }
    return module, result


def main(argv=None):
    """Train from the command line; under a dist kvstore, as one worker."""
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        kvstore = create_kvstore(arguments.kv_store)
        module, result = train(arguments, kvstore, partial(print, flush=True))
        if arguments.output is not None:
            save_result(arguments.output, result["rank"], module, result)
    except Exception as error:
        if os.environ.get("DMLC_ROLE") != "worker":
            raise
        # Exiting normally would wait at the kvstore's exit barrier for
        # workers that will never come: report the error and leave at once.
        traceback.print_exc()
        print(f"error: worker failed: {error}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)


if __name__ == "__main__":
    main()
