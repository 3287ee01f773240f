"""Classify digit images with a trained network loaded from its checkpoint."""

import hashlib
import json
from pathlib import Path

import numpy as np

from helpers.compat import import_mxnet
from helpers.training import MODELS_DIR, checkpoint_paths, load_params

mx = import_mxnet()

MANIFEST_NAME = "MANIFEST.json"
REBUILD_HINT = "Rebuild the pretrained checkpoints with `make models`."


class CheckpointError(RuntimeError):
    """Raised when a checkpoint is missing or damaged."""


def as_image_batch(images):
    """Check images and return them as (N, 1, 28, 28) float32 in 0-1."""
    array = np.asarray(images)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"expected uint8 or float images, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        raise ValueError(
            f"expected images of shape (28, 28) or (N, 28, 28), got {np.shape(images)}"
        )
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError("images contain NaN or infinite values")
        if array.size and (array.min() < 0 or array.max() > 1):
            raise ValueError(
                f"float images must lie in 0-1, got {array.min():g} to {array.max():g}"
            )
        scaled = array.astype(np.float32)
    else:
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(
                f"integer images must lie in 0-255, got {array.min()} to {array.max()}"
            )
        scaled = array.astype(np.float32) / 255
    return scaled.reshape(-1, 1, 28, 28)


class Classifier:
    """A trained network bound for inference on batches of digit images."""

    def __init__(self, symbol, arg_params, aux_params, name="network", batch_size=100):
        self.name = name
        self.batch_size = batch_size
        self._module = mx.mod.Module(symbol, context=mx.cpu())
        self._module.bind(
            data_shapes=[("data", (batch_size, 1, 28, 28))],
            label_shapes=[("softmax_label", (batch_size,))],
            for_training=False,
        )
        self._module.set_params(arg_params, aux_params)
        self._bound_batch_size = batch_size

    def _forward(self, batch):
        count = batch.shape[0]
        if count != self._bound_batch_size:
            # rebinding shares the parameters; a single drawn digit then costs
            # one image's work, not a whole padded batch's
            self._module.reshape(
                data_shapes=[("data", (count, 1, 28, 28))],
                label_shapes=[("softmax_label", (count,))],
            )
            self._bound_batch_size = count
        self._module.forward(mx.io.DataBatch([mx.nd.array(batch)]), is_train=False)
        return self._module.get_outputs()[0].asnumpy()

    def predict_proba(self, images):
        """Return (N, 10) class probabilities for (28, 28) or (N, 28, 28) images."""
        batch = as_image_batch(images)
        chunks = [
            self._forward(batch[start : start + self.batch_size])
            for start in range(0, len(batch), self.batch_size)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, 10), np.float32)

    def predict(self, images):
        """Return the (N,) most probable digit of each image."""
        return self.predict_proba(images).argmax(axis=1)

    def accuracy(self, images, labels):
        """Return the fraction of images whose predicted digit is the label."""
        return float((self.predict(images) == np.asarray(labels)).mean())


def sha256_of(path):
    """Return the hex sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest(models_dir=MODELS_DIR):
    """Return the manifest describing the checkpoints in models_dir."""
    path = Path(models_dir) / MANIFEST_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing. {REBUILD_HINT}") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is damaged ({error}). {REBUILD_HINT}") from None


def checkpoint_files(name, models_dir=MODELS_DIR):
    """Return the verified (symbol, params) paths of the checkpoint name."""
    entry = read_manifest(models_dir).get(name)
    if entry is None:
        raise CheckpointError(
            f"no checkpoint named {name!r} in {models_dir}. {REBUILD_HINT}"
        )
    paths = checkpoint_paths(Path(models_dir) / name, entry["epoch"])
    for kind in ("symbol", "params"):
        path = paths[kind]
        if not path.is_file():
            raise CheckpointError(f"{path} is missing. {REBUILD_HINT}")
        if sha256_of(path) != entry[f"{kind}_sha256"]:
            raise CheckpointError(f"{path} is damaged (checksum). {REBUILD_HINT}")
    return paths["symbol"], paths["params"]


def load_classifier(name, models_dir=MODELS_DIR):
    """Load the pretrained "mlp" or "lenet" from models/ as a Classifier."""
    if name not in ("mlp", "lenet"):
        raise ValueError(f"unknown network {name!r}: expected 'mlp' or 'lenet'")
    symbol_path, params_path = checkpoint_files(name, models_dir)
    symbol = mx.sym.load(str(symbol_path))
    arg_params, aux_params = load_params(params_path)
    return Classifier(symbol, arg_params, aux_params, name=name)


def classifier_from_module(module, name="network"):
    """Wrap a trained Module (from helpers.training.fit) as a Classifier."""
    arg_params, aux_params = module.get_params()
    return Classifier(module.symbol, arg_params, aux_params, name=name)
