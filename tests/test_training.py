"""Tests of helpers.training: fit, its history and report, checkpoints and resuming."""

import dataclasses
import json
import re
import types

import numpy as np
import pytest

from helpers.compat import import_mxnet
from helpers.iterators import make_iterator
from helpers.networks import mlp
from helpers.training import (
    SCORE_EVERY,
    History,
    Recipe,
    RunningScore,
    checkpoint_paths,
    default_contexts,
    evaluate,
    fit,
    latest_epoch,
    load_params,
    save_checkpoint,
    seed_everything,
    summary_line,
)

mx = import_mxnet()

TRAIN_COUNT, TEST_COUNT = 2000, 1000
FIGURES = ["train_accuracy", "train_loss", "test_accuracy", "test_loss"]
SUMMARY = re.compile(
    r"epoch +(\d+)/(\d+): train accuracy (\S+) loss (\S+) \| "
    r"test accuracy (\S+) loss (\S+) \| (\S+) s, (\S+) samples/s"
)

# what two epochs of checkpoints under the prefix "mlp" leave in a folder
TWO_EPOCH_CHECKPOINT = [
    "mlp-0001.params",
    "mlp-0001.states",
    "mlp-0002.params",
    "mlp-0002.states",
    "mlp-history.json",
    "mlp-symbol.json",
]


def small_iterators(mnist, train_count=TRAIN_COUNT, shuffle=True, batch_size=100):
    """Training and test iterators over the first images of MNIST."""
    train_iter = make_iterator(
        mnist.train_images[:train_count],
        mnist.train_labels[:train_count],
        batch_size,
        shuffle=shuffle,
    )
    test_iter = make_iterator(
        mnist.test_images[:TEST_COUNT], mnist.test_labels[:TEST_COUNT], batch_size
    )
    return train_iter, test_iter


def figures_of(history, epoch):
    return [getattr(history, name)[epoch] for name in FIGURES]


def files_in(folder):
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    """A two-epoch MLP run on a small subset, checkpointed, with its report."""
    folder = tmp_path_factory.mktemp("checkpoints")
    lines = []
    seed_everything(0)
    train_iter, test_iter = small_iterators(mnist)
    module, history = fit(
        "mlp",
        train_iter,
        test_iter,
        Recipe(num_epochs=2),
        checkpoint_prefix=folder / "mlp",
        report=lines.append,
    )
    return types.SimpleNamespace(
        module=module, history=history, lines=lines, folder=folder, test_iter=test_iter
    )


def test_fit_returns_a_module_and_one_entry_per_epoch(trained):
    assert isinstance(trained.module, mx.mod.Module)
    history = trained.history
    assert history.num_epochs == 2
    for name, values in dataclasses.asdict(history).items():
        assert len(values) == 2, name
        assert all(isinstance(value, float) for value in values), name
    assert all(0 < value <= 1 for value in history.train_accuracy)
    assert all(value > 0 for value in history.train_loss + history.test_loss)
    assert all(value > 0 for value in history.seconds)
    for seconds, speed in zip(history.seconds, history.samples_per_second):
        assert speed * seconds == pytest.approx(TRAIN_COUNT)


def test_fit_learns_well_above_chance(trained):
    assert trained.history.test_accuracy[-1] > 0.7
    assert trained.history.train_loss[1] < trained.history.train_loss[0]


def test_history_holds_the_trained_modules_test_figures(trained):
    accuracy, loss = evaluate(trained.module, trained.test_iter)
    assert accuracy == pytest.approx(trained.history.test_accuracy[-1], abs=1e-9)
    assert loss == pytest.approx(trained.history.test_loss[-1], rel=1e-6)


def test_report_gets_one_summary_line_per_epoch(trained):
    assert len(trained.lines) == 2
    for epoch, line in enumerate(trained.lines):
        assert "\n" not in line
        match = SUMMARY.fullmatch(line)
        assert match, line
        assert match.group(1, 2) == (str(epoch + 1), "2")
        shown = [float(value) for value in match.group(3, 4, 5, 6)]
        assert shown == pytest.approx(figures_of(trained.history, epoch), abs=5e-5)
        speed = trained.history.samples_per_second[epoch]
        assert float(match.group(8).replace(",", "")) == pytest.approx(speed, abs=0.5)


def test_checkpoints_are_written_in_mxnets_format(trained):
    assert files_in(trained.folder) == TWO_EPOCH_CHECKPOINT
    paths = checkpoint_paths(trained.folder / "mlp", 2)
    symbol = mx.sym.load(str(paths["symbol"]))
    assert symbol.tojson() == mlp().tojson()
    arg_params, aux_params = load_params(paths["params"])
    saved_args, _ = trained.module.get_params()
    assert (
        sorted(arg_params)
        == sorted(saved_args)
        == sorted(
            name for name in mlp().list_arguments() if name.endswith(("weight", "bias"))
        )
    )
    assert aux_params == {}
    for name, value in arg_params.items():
        np.testing.assert_array_equal(value.asnumpy(), saved_args[name].asnumpy())
    saved = History.from_json(paths["history"].read_text())
    assert saved == trained.history


def test_checkpoint_paths_follow_mxnet_names(tmp_path):
    paths = checkpoint_paths(tmp_path / "net", 12)
    assert {kind: path.name for kind, path in paths.items()} == {
        "symbol": "net-symbol.json",
        "params": "net-0012.params",
        "states": "net-0012.states",
        "history": "net-history.json",
    }
    assert all(path.parent == tmp_path for path in paths.values())


def test_resume_runs_only_the_missing_epochs(mnist, tmp_path):
    prefix = tmp_path / "mlp"
    seed_everything(0)
    first_lines, resumed_lines = [], []
    _, first = fit(
        mlp(),
        *small_iterators(mnist, 1000),
        Recipe(num_epochs=1),
        checkpoint_prefix=prefix,
        report=first_lines.append,
    )
    saved = History.from_json(checkpoint_paths(prefix, 1)["history"].read_text())
    assert saved == first and first.num_epochs == 1
    assert latest_epoch(prefix) == 1
    _, history = fit(
        mlp(),
        *small_iterators(mnist, 1000),
        Recipe(num_epochs=2),
        checkpoint_prefix=prefix,
        resume=True,
        report=resumed_lines.append,
    )
    assert len(resumed_lines) == 1 and resumed_lines[0].startswith("epoch  2/2:")
    assert history.num_epochs == 2
    assert figures_of(history, 0) == figures_of(saved, 0)
    assert history.seconds[0] == saved.seconds[0]
    assert latest_epoch(prefix) == 2
    assert files_in(tmp_path) == TWO_EPOCH_CHECKPOINT


def test_a_resumed_run_repeats_the_uninterrupted_one(mnist, tmp_path):
    """Unshuffled batches leave nothing random: resuming must change no figure.

    This fails if the optimizer's momentum or its place in the learning-rate
    schedule is lost between the runs.
    """
    prefix = tmp_path / "mlp"
    recipe = Recipe(num_epochs=2)
    iterators = small_iterators(mnist, 1000, shuffle=False)
    _, whole = fit("mlp", *iterators, recipe, checkpoint_prefix=prefix, report=None)
    for kind in ("params", "states"):
        checkpoint_paths(prefix, 2)[kind].unlink()
    iterators = small_iterators(mnist, 1000, shuffle=False)
    _, resumed = fit(
        "mlp", *iterators, recipe, checkpoint_prefix=prefix, resume=True, report=None
    )
    assert resumed.num_epochs == 2
    assert figures_of(resumed, 0) == figures_of(whole, 0)
    assert figures_of(resumed, 1) == pytest.approx(figures_of(whole, 1), rel=1e-6)


def test_resume_without_a_checkpoint_starts_from_the_first_epoch(mnist, tmp_path):
    lines = []
    _, history = fit(
        "mlp",
        *small_iterators(mnist, 500),
        Recipe(num_epochs=1),
        checkpoint_prefix=tmp_path / "fresh",
        resume=True,
        report=lines.append,
    )
    assert history.num_epochs == 1 and lines[0].startswith("epoch  1/1:")
    assert latest_epoch(tmp_path / "fresh") == 1


def test_fit_without_a_recipe_uses_the_iterators_batch_size(mnist):
    lines = []
    train_iter, test_iter = small_iterators(mnist, 500, batch_size=50)
    module, history = fit("mlp", train_iter, test_iter, report=lines.append)
    assert history.num_epochs == Recipe().num_epochs == len(lines)
    assert module.data_shapes[0].shape == (50, 1, 28, 28)


def test_same_seed_gives_the_same_first_epoch(mnist):
    """Seeded before the iterators are made, two runs agree to the last bit here."""
    runs = []
    for _ in range(2):
        seed_everything(3)
        _, history = fit(
            "mlp", *small_iterators(mnist, 1000), Recipe(num_epochs=1), report=None
        )
        runs.append(figures_of(history, 0))
    assert runs[0] == runs[1]


def test_another_seed_gives_other_figures(mnist):
    runs = []
    for seed in (3, 4):
        seed_everything(seed)
        _, history = fit(
            "mlp",
            *small_iterators(mnist, 1000),
            Recipe(num_epochs=1, seed=seed),
            report=None,
        )
        runs.append(figures_of(history, 0))
    assert runs[0] != runs[1]


def test_unknown_network_is_refused_before_training(mnist):
    with pytest.raises(ValueError, match="unknown network 'cnn'"):
        fit("cnn", *small_iterators(mnist, 100), Recipe(num_epochs=1), report=None)


def test_save_is_atomic(trained, tmp_path, monkeypatch):
    prefix = tmp_path / "copy"
    save_checkpoint(trained.module, prefix, 1, trained.history)
    before = {name: (tmp_path / name).read_bytes() for name in files_in(tmp_path)}
    assert sorted(before) == [
        "copy-0001.params",
        "copy-0001.states",
        "copy-history.json",
        "copy-symbol.json",
    ]

    def failing_save(name, data):
        with open(name, "wb") as half_written:
            half_written.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(mx.nd, "save", failing_save)
    shorter = History(**dataclasses.asdict(trained.history))
    shorter.truncate(1)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(trained.module, prefix, 1, shorter)
    assert files_in(tmp_path) == sorted(before)
    for name, content in before.items():
        assert (tmp_path / name).read_bytes() == content, name


def test_default_contexts_is_the_cpu_without_gpus(monkeypatch):
    monkeypatch.setattr(mx.context, "num_gpus", lambda: 0)
    assert default_contexts() == [mx.cpu()]


def test_default_contexts_takes_every_gpu(monkeypatch):
    monkeypatch.setattr(mx.context, "num_gpus", lambda: 2)
    assert default_contexts() == [mx.gpu(0), mx.gpu(1)]


def test_default_contexts_on_this_machine():
    contexts = default_contexts()
    if mx.context.num_gpus() == 0:
        assert contexts == [mx.cpu()]
    else:
        assert [context.device_type for context in contexts] == ["gpu"] * len(contexts)


def numpy_scores(probabilities, labels):
    picked = probabilities[np.arange(len(labels)), labels]
    accuracy = (probabilities.argmax(axis=1) == labels).mean()
    return accuracy, -np.log(np.maximum(picked, 1e-12)).mean()


def random_probabilities(rng, count):
    scores = rng.normal(size=(count, 10)) * 3
    exponentials = np.exp(scores - scores.max(axis=1, keepdims=True))
    return (exponentials / exponentials.sum(axis=1, keepdims=True)).astype(np.float32)


def test_running_score_agrees_with_numpy_on_a_hand_made_batch():
    probabilities = np.array(
        [
            [0.7, 0.1, 0.2] + [0.0] * 7,
            [0.1, 0.8, 0.1] + [0.0] * 7,
            [0.5, 0.2, 0.3] + [0.0] * 7,
            [0.0, 0.0, 0.0] + [0.0] * 6 + [1.0],
        ],
        dtype=np.float32,
    )
    labels = np.array([0, 1, 2, 9])
    score = RunningScore()
    score.update([mx.nd.array(labels)], [mx.nd.array(probabilities)])
    assert score.count == 4
    assert score.accuracy == pytest.approx(0.75)
    expected = -(np.log(0.7) + np.log(0.8) + np.log(0.3) + np.log(1.0)) / 4
    assert score.cross_entropy == pytest.approx(expected, rel=1e-5)


def test_running_score_over_many_batches_agrees_with_numpy():
    rng = np.random.default_rng(0)
    score, all_probabilities, all_labels = RunningScore(), [], []
    for size in rng.integers(1, 20, SCORE_EVERY * 2 + 3):
        probabilities = random_probabilities(rng, size)
        labels = rng.integers(0, 10, size)
        score.update([mx.nd.array(labels)], [mx.nd.array(probabilities)])
        all_probabilities.append(probabilities)
        all_labels.append(labels)
    accuracy, loss = numpy_scores(
        np.concatenate(all_probabilities), np.concatenate(all_labels)
    )
    assert score.count == len(np.concatenate(all_labels))
    assert score.accuracy == pytest.approx(accuracy, abs=1e-9)
    assert score.cross_entropy == pytest.approx(loss, rel=1e-5)
    score.update([mx.nd.array([3])], [mx.nd.array(np.eye(10)[[3]])])
    assert score.count == len(np.concatenate(all_labels)) + 1


def test_running_score_clips_a_zero_probability():
    score = RunningScore()
    score.update([mx.nd.array([5])], [mx.nd.array(np.eye(10)[[0]])])
    assert score.accuracy == 0
    assert score.cross_entropy == pytest.approx(-np.log(1e-12), rel=1e-4)


def test_running_score_without_batches_is_zero():
    score = RunningScore()
    assert (score.accuracy, score.cross_entropy, score.count) == (0, 0, 0)


def test_history_json_round_trip():
    history = History()
    history.append(
        train_accuracy=np.float32(0.5),
        train_loss=2,
        test_accuracy=0.625,
        test_loss=1.5,
        seconds=3.25,
        samples_per_second=1000,
    )
    history.append(
        train_accuracy=0.75,
        train_loss=1,
        test_accuracy=0.875,
        test_loss=0.5,
        seconds=3,
        samples_per_second=1100,
    )
    text = history.to_json()
    assert json.loads(text)["test_accuracy"] == [0.625, 0.875]
    copy = History.from_json(text)
    assert copy == history and copy.num_epochs == 2
    assert all(isinstance(value, float) for value in copy.train_loss)


def test_history_truncate_forgets_later_epochs():
    history = History(
        **{field.name: [1.0, 2.0, 3.0] for field in dataclasses.fields(History)}
    )
    history.truncate(2)
    assert history.num_epochs == 2
    assert all(values == [1.0, 2.0] for values in dataclasses.asdict(history).values())
    history.truncate(5)
    assert history.num_epochs == 2
    history.truncate(0)
    assert history == History()


def test_history_refuses_unknown_figures():
    with pytest.raises(AttributeError):
        History().append(validation_accuracy=0.5)
    with pytest.raises(TypeError):
        History.from_json('{"validation_accuracy": [0.5]}')
    with pytest.raises(json.JSONDecodeError):
        History.from_json("not json")


def test_latest_epoch_is_zero_without_checkpoints(tmp_path):
    assert latest_epoch(tmp_path / "mlp") == 0
    assert latest_epoch(tmp_path / "missing-folder" / "mlp") == 0


def test_latest_epoch_finds_the_newest_params_of_its_prefix(tmp_path):
    for name in [
        "mlp-0001.params",
        "mlp-0010.params",
        "mlp-0003.params",
        "mlp-0011.states",
        "mlp-history.json",
        "lenet-0020.params",
        "mlp-extra-0030.params",
    ]:
        (tmp_path / name).write_bytes(b"")
    assert latest_epoch(tmp_path / "mlp") == 10
    assert latest_epoch(tmp_path / "lenet") == 20


def test_recipe_defaults():
    assert dataclasses.asdict(Recipe()) == {
        "num_epochs": 10,
        "batch_size": 100,
        "learning_rate": 0.1,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "final_learning_rate": 0.0,
        "max_shift": 0,
        "seed": 42,
    }


def test_summary_line_reads_the_last_epoch():
    history = History(
        train_accuracy=[0.1, 0.91234],
        train_loss=[9.0, 0.25],
        test_accuracy=[0.1, 0.95],
        test_loss=[9.0, 0.125],
        seconds=[1.0, 2.5],
        samples_per_second=[1.0, 24000.4],
    )
    assert summary_line(2, 10, history) == (
        "epoch  2/10: train accuracy 0.9123 loss 0.2500 | "
        "test accuracy 0.9500 loss 0.1250 | 2.5 s, 24,000 samples/s"
    )
