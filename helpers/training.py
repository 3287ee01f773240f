"""Train a network with ``mx.mod.Module``: progress, history, checkpoints."""

import dataclasses
import json
import logging
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from helpers.compat import import_mxnet
from helpers.data import REPOSITORY_ROOT, write_atomically
from helpers.networks import build

mx = import_mxnet()
log = logging.getLogger(__name__)

MODELS_DIR = REPOSITORY_ROOT / "models"
PROGRESS_EVERY = 50  # batches between progress-bar refreshes
SCORE_EVERY = 50  # batches whose outputs RunningScore keeps before scoring them
XAVIER_MAGNITUDE = 2  # of the Xavier (Glorot) normal initialisation


@dataclasses.dataclass
class History:
    """Per-epoch figures of a training run."""

    train_accuracy: list = dataclasses.field(default_factory=list)
    train_loss: list = dataclasses.field(default_factory=list)
    test_accuracy: list = dataclasses.field(default_factory=list)
    test_loss: list = dataclasses.field(default_factory=list)
    seconds: list = dataclasses.field(default_factory=list)
    samples_per_second: list = dataclasses.field(default_factory=list)

    @property
    def num_epochs(self):
        return len(self.seconds)

    def append(self, **figures):
        for name, value in figures.items():
            getattr(self, name).append(float(value))

    def truncate(self, num_epochs):
        """Forget the epochs after num_epochs (a resumed run redoes them)."""
        # not dataclasses.asdict, which hands out copies of the lists
        for field in dataclasses.fields(self):
            del getattr(self, field.name)[num_epochs:]

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


@dataclasses.dataclass
class Recipe:
    """How to train: SGD with momentum, weight decay, a cosine schedule, shifts."""

    num_epochs: int = 10
    batch_size: int = 100
    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    final_learning_rate: float = 0.0
    max_shift: int = 0  # move training digits up to this many pixels at random
    seed: int = 42


def seed_everything(seed):
    """Seed mxnet, numpy and random so that a run can be repeated."""
    mx.random.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def default_contexts():
    """Every GPU when there is one, else the CPU."""
    gpus = mx.context.num_gpus()
    return [mx.gpu(index) for index in range(gpus)] if gpus else [mx.cpu()]


class RunningScore:
    """Accuracy and cross-entropy summed on the device, read only when asked.

    Reading a value waits for the computation, so the progress bar reads it
    every few batches rather than after each one. Each update only copies the
    probabilities and labels aside, side by side, in one operator; they are
    scored together every SCORE_EVERY updates or when a value is read, which
    takes a few operators per group of batches instead of ten per batch.
    """

    def __init__(self):
        self.correct, self.loss, self.count = 0.0, 0.0, 0
        self._pending = {}  # context -> list of (N, classes + 1) arrays

    def update(self, labels, probabilities):
        for label, prob in zip(labels, probabilities):
            label = label.as_in_context(prob.context).astype(prob.dtype, copy=False)
            # The copy matters: a module overwrites its outputs at the next batch.
            rows = mx.nd.concat(prob, label.reshape((-1, 1)), dim=1)
            self._pending.setdefault(prob.context, []).append(rows)
            self.count += label.shape[0]
        if sum(len(kept) for kept in self._pending.values()) >= SCORE_EVERY:
            self._score_pending()

    def _score_pending(self):
        for kept in self._pending.values():
            rows = kept[0] if len(kept) == 1 else mx.nd.concat(*kept, dim=0)
            prob = mx.nd.slice_axis(rows, axis=1, begin=0, end=-1)
            label = mx.nd.slice_axis(rows, axis=1, begin=-1, end=None).reshape((-1,))
            picked = mx.nd.pick(prob, label, axis=1)
            correct = (prob.argmax(axis=1) == label).sum()
            loss = -mx.nd.log(mx.nd.maximum(picked, 1e-12)).sum()
            self.correct = self.correct + correct.as_in_context(mx.cpu())
            self.loss = self.loss + loss.as_in_context(mx.cpu())
        self._pending = {}

    def _mean(self, total):
        value = total.asscalar() if isinstance(total, mx.nd.NDArray) else total
        return value / max(self.count, 1)

    @property
    def accuracy(self):
        self._score_pending()
        return self._mean(self.correct)

    @property
    def cross_entropy(self):
        self._score_pending()
        return self._mean(self.loss)


def evaluate(module, data_iter):
    """Return (accuracy, cross-entropy) of module on every batch of data_iter."""
    data_iter.reset()
    score = RunningScore()
    for batch in data_iter:
        module.forward(batch, is_train=False)
        outputs = module.get_outputs()
        keep = batch.data[0].shape[0] - batch.pad
        score.update(
            [label[:keep] for label in batch.label], [out[:keep] for out in outputs]
        )
    return score.accuracy, score.cross_entropy


def checkpoint_paths(prefix, epoch):
    """MXNet's checkpoint names: prefix-symbol.json, prefix-NNNN.params."""
    prefix = Path(prefix)
    return {
        "symbol": prefix.with_name(f"{prefix.name}-symbol.json"),
        "params": prefix.with_name(f"{prefix.name}-{epoch:04d}.params"),
        "states": prefix.with_name(f"{prefix.name}-{epoch:04d}.states"),
        "history": prefix.with_name(f"{prefix.name}-history.json"),
    }


def _save_atomically(path, save):
    """Call save(temporary_name), then rename the file to path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".saving-") as folder:
        temporary = Path(folder) / path.name
        save(str(temporary))
        temporary.replace(path)


def save_checkpoint(module, prefix, epoch, history):
    """Save symbol, parameters, optimizer state and history, each atomically."""
    paths = checkpoint_paths(prefix, epoch)
    arg_params, aux_params = module.get_params()
    params = {f"arg:{k}": v for k, v in arg_params.items()}
    params.update({f"aux:{k}": v for k, v in aux_params.items()})
    write_atomically(paths["symbol"], module.symbol.tojson().encode())
    _save_atomically(paths["params"], lambda name: mx.nd.save(name, params))
    _save_atomically(paths["states"], module.save_optimizer_states)
    write_atomically(paths["history"], history.to_json().encode())
    return paths


def latest_epoch(prefix):
    """Return the last epoch saved under prefix, or 0 when there is none."""
    prefix = Path(prefix)
    epochs = [
        int(path.stem.rsplit("-", 1)[1])
        for path in prefix.parent.glob(f"{prefix.name}-[0-9][0-9][0-9][0-9].params")
    ]
    return max(epochs, default=0)


def load_params(path):
    """Load an MXNet .params file into (arg_params, aux_params)."""
    saved = mx.nd.load(str(path))
    arg = {k[4:]: v for k, v in saved.items() if k.startswith("arg:")}
    aux = {k[4:]: v for k, v in saved.items() if k.startswith("aux:")}
    return arg, aux


def _learning_rate_schedule(recipe, batches_per_epoch):
    total = max(recipe.num_epochs * batches_per_epoch, 1)
    return mx.lr_scheduler.CosineScheduler(
        max_update=total,
        base_lr=recipe.learning_rate,
        final_lr=recipe.final_learning_rate,
    )


def _updates_per_epoch(train_iter, recipe, kvstore):
    """Optimizer steps per epoch: a dist_async server steps on every push."""
    batches = -(-train_iter.num_data // recipe.batch_size)
    kind = getattr(kvstore, "type", "")
    if kind.startswith("dist") and kind.endswith("async"):
        return batches * kvstore.num_workers
    return batches


def _prepare_module(symbol, train_iter, recipe, contexts, kvstore, first_epoch=0):
    if isinstance(kvstore, str) and kvstore.startswith("dist"):
        kvstore = mx.kv.create(kvstore)  # its worker count sets the schedule
    module = mx.mod.Module(symbol, context=contexts)
    module.bind(train_iter.provide_data, train_iter.provide_label)
    module.init_params(mx.init.Xavier(rnd_type="gaussian", magnitude=XAVIER_MAGNITUDE))
    batches_per_epoch = _updates_per_epoch(train_iter, recipe, kvstore)
    module.init_optimizer(
        kvstore=kvstore,
        # a distributed server unpickles the optimizer before it can import helpers
        optimizer="sgd" if "dist" in getattr(kvstore, "type", "") else "plainsgd",
        optimizer_params={
            "learning_rate": recipe.learning_rate,
            "momentum": recipe.momentum,
            "wd": recipe.weight_decay,
            "lr_scheduler": _learning_rate_schedule(recipe, batches_per_epoch),
            # the saved optimizer state holds no update count: a resumed run
            # would restart the learning-rate schedule without this
            "begin_num_update": first_epoch * batches_per_epoch,
        },
    )
    return module


@mx.optimizer.register
class PlainSGD(mx.optimizer.SGD):
    """MXNet's SGD, updating each parameter with its own sgd_mom_update.

    MXNet 1.9's SGD updates every dense parameter with multi_sgd_mom_update,
    whose CPU kernel is not vectorised: for these networks it costs two to
    three times the CPU time of one sgd_mom_update per parameter, for the same
    numbers. Any other case (sparse, float16, no momentum) goes to SGD.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.aggregate_num = 0  # the updater then hands over one at a time

    def _update_impl(self, indices, weights, grads, states, multi_precision=False):
        dense = isinstance(weights, mx.nd.NDArray) and weights.stype == "default"
        if multi_precision or not dense or states is None or grads.stype != "default":
            super()._update_impl(indices, weights, grads, states, multi_precision)
            return
        self._update_count(indices)
        options = {"rescale_grad": self.rescale_grad, "momentum": self.momentum}
        if self.clip_gradient:
            options["clip_gradient"] = self.clip_gradient
        mx.nd.sgd_mom_update(
            weights,
            grads,
            states,
            out=weights,
            lr=self._get_lr(indices),
            wd=self._get_wd(indices),
            **options,
        )


def _resume(module, prefix):
    """Load the newest checkpoint under prefix into module; return its epoch."""
    epoch = latest_epoch(prefix)
    if epoch == 0:
        return 0, History()
    paths = checkpoint_paths(prefix, epoch)
    arg, aux = load_params(paths["params"])
    module.set_params(arg, aux)
    module.load_optimizer_states(str(paths["states"]))
    history = History.from_json(paths["history"].read_text())
    history.truncate(epoch)
    log.info("resuming from %s at epoch %d", paths["params"], epoch)
    return epoch, history


def train_one_epoch(module, train_iter, description):
    """Run one pass over train_iter; return (accuracy, loss, seconds, samples)."""
    train_iter.reset()
    score = RunningScore()
    start = time.perf_counter()
    total = -(-train_iter.num_data // train_iter.batch_size)
    with tqdm(total=total, desc=description, unit="batch", leave=False) as bar:
        for index, batch in enumerate(train_iter, start=1):
            module.forward_backward(batch)
            module.update()
            score.update(batch.label, module.get_outputs())
            if index % PROGRESS_EVERY == 0 or index == total:
                seconds = time.perf_counter() - start
                bar.set_postfix(
                    accuracy=f"{score.accuracy:.4f}",
                    samples_per_s=f"{score.count / seconds:,.0f}",
                )
                bar.update(index - bar.n)
    accuracy, loss = score.accuracy, score.cross_entropy
    mx.nd.waitall()  # MXNet runs asynchronously: the last updates may be pending
    return accuracy, loss, time.perf_counter() - start, score.count


def summary_line(epoch, num_epochs, history):
    """One plain line describing the last epoch of history."""
    return (
        f"epoch {epoch:2d}/{num_epochs}: "
        f"train accuracy {history.train_accuracy[-1]:.4f} "
        f"loss {history.train_loss[-1]:.4f} | "
        f"test accuracy {history.test_accuracy[-1]:.4f} "
        f"loss {history.test_loss[-1]:.4f} | "
        f"{history.seconds[-1]:.1f} s, "
        f"{history.samples_per_second[-1]:,.0f} samples/s"
    )


def fit(
    network,
    train_iter,
    test_iter,
    recipe=None,
    contexts=None,
    kvstore="local",
    checkpoint_prefix=None,
    resume=False,
    report=print,
):
    """Train network (a symbol or "mlp"/"lenet"); return (module, history).

    With checkpoint_prefix, every epoch is saved in MXNet's format (symbol
    JSON and params) atomically; resume=True continues from the newest one.
    report receives one summary line per epoch (None to stay quiet).
    """
    recipe = recipe or Recipe(batch_size=train_iter.batch_size)
    symbol = build(network) if isinstance(network, str) else network
    seed_everything(recipe.seed)
    resuming = resume and checkpoint_prefix is not None
    module = _prepare_module(
        symbol,
        train_iter,
        recipe,
        contexts or default_contexts(),
        kvstore,
        first_epoch=latest_epoch(checkpoint_prefix) if resuming else 0,
    )
    first_epoch, history = 0, History()
    if resuming:
        first_epoch, history = _resume(module, checkpoint_prefix)
        seed_everything(recipe.seed + first_epoch)
    for epoch in range(first_epoch + 1, recipe.num_epochs + 1):
        description = f"epoch {epoch}/{recipe.num_epochs}"
        accuracy, loss, seconds, samples = train_one_epoch(
            module, train_iter, description
        )
        test_accuracy, test_loss = evaluate(module, test_iter)
        history.append(
            train_accuracy=accuracy,
            train_loss=loss,
            test_accuracy=test_accuracy,
            test_loss=test_loss,
            seconds=seconds,
            samples_per_second=samples / seconds,
        )
        if checkpoint_prefix is not None:
            save_checkpoint(module, checkpoint_prefix, epoch, history)
        if report is not None:
            report(summary_line(epoch, recipe.num_epochs, history))
    return module, history
