"""Train the pretrained checkpoints in models/ with fixed recipes and seeds.

Run ``python -m helpers.pretrained`` (or ``make models``) to rebuild them.
"""

import argparse
import json
import tempfile
from pathlib import Path

from helpers.augment import training_iterator
from helpers.classify import MANIFEST_NAME, load_classifier, sha256_of
from helpers.data import load_mnist, write_atomically
from helpers.iterators import mnist_iterators
from helpers.training import MODELS_DIR, History, Recipe, checkpoint_paths, fit

# The recipes behind the committed checkpoints and the notebooks' runs.
RECIPES = {
    "mlp": Recipe(num_epochs=10, learning_rate=0.1, weight_decay=5e-4, max_shift=2),
    "lenet": Recipe(num_epochs=6, learning_rate=0.05, weight_decay=5e-4, max_shift=2),
}


def load_history(name, models_dir=MODELS_DIR):
    """Return the training history stored beside the pretrained network name."""
    path = checkpoint_paths(Path(models_dir) / name, 0)["history"]
    return History.from_json(path.read_text())


def _update_manifest(models_dir, name, entry):
    path = Path(models_dir) / MANIFEST_NAME
    manifest = json.loads(path.read_text()) if path.exists() else {}
    manifest[name] = entry
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_atomically(path, text.encode())


def _publish(trained_prefix, name, epoch, models_dir):
    """Copy the final symbol, params and history into models_dir."""
    source = checkpoint_paths(trained_prefix, epoch)
    target = checkpoint_paths(Path(models_dir) / name, epoch)
    for stale in Path(models_dir).glob(f"{name}-[0-9][0-9][0-9][0-9].params"):
        stale.unlink()
    for kind in ("symbol", "params", "history"):
        write_atomically(target[kind], source[kind].read_bytes())
    return target


def train_pretrained(name, mnist, models_dir=MODELS_DIR, report=print):
    """Train network name with its recipe and publish it into models_dir."""
    if name not in RECIPES:
        raise ValueError(f"no recipe for {name!r}: choose from {sorted(RECIPES)}")
    recipe = RECIPES[name]
    train_iter = training_iterator(mnist.train_images, mnist.train_labels, recipe)
    _, test_iter = mnist_iterators(mnist, recipe.batch_size)
    with tempfile.TemporaryDirectory() as folder:
        prefix = Path(folder) / name
        _, history = fit(
            name, train_iter, test_iter, recipe, checkpoint_prefix=prefix, report=report
        )
        target = _publish(prefix, name, recipe.num_epochs, models_dir)
    _update_manifest(
        models_dir,
        name,
        {
            "epoch": recipe.num_epochs,
            "symbol_sha256": sha256_of(target["symbol"]),
            "params_sha256": sha256_of(target["params"]),
            "test_accuracy": history.test_accuracy[-1],
        },
    )
    return history


def main():
    """Retrain the pretrained networks and check them through load_classifier."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("names", nargs="*", help=f"some of {sorted(RECIPES)}")
    arguments = parser.parse_args()
    unknown = set(arguments.names) - set(RECIPES)
    if unknown:
        parser.error(
            f"unknown networks {sorted(unknown)}: choose from {sorted(RECIPES)}"
        )
    mnist = load_mnist()
    for name in arguments.names or sorted(RECIPES):
        print(f"Training {name}")
        train_pretrained(name, mnist)
        accuracy = load_classifier(name).accuracy(mnist.test_images, mnist.test_labels)
        print(f"{name}: test accuracy {accuracy:.4f} through load_classifier")


if __name__ == "__main__":
    main()
