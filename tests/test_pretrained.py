"""Tests of helpers.pretrained: the committed checkpoints and how they are rebuilt."""

import json
import shutil
import sys
import types

import pytest

from helpers import pretrained
from helpers.classify import MANIFEST_NAME, load_classifier, read_manifest, sha256_of
from helpers.training import MODELS_DIR, History, Recipe, checkpoint_paths

NAMES = ["lenet", "mlp"]


def small_mnist(mnist, train_count=1000, test_count=500):
    """An object shaped like load_mnist()'s, holding the first few images."""
    return types.SimpleNamespace(
        train_images=mnist.train_images[:train_count],
        train_labels=mnist.train_labels[:train_count],
        test_images=mnist.test_images[:test_count],
        test_labels=mnist.test_labels[:test_count],
    )


def files_in(folder):
    return sorted(path.name for path in folder.iterdir())


def test_recipes_cover_both_networks():
    assert sorted(pretrained.RECIPES) == NAMES
    for recipe in pretrained.RECIPES.values():
        assert isinstance(recipe, Recipe) and recipe.num_epochs >= 1


@pytest.mark.parametrize("name", NAMES)
def test_load_history_has_the_recipes_epochs(name):
    history = pretrained.load_history(name)
    assert isinstance(history, History)
    assert history.num_epochs == pretrained.RECIPES[name].num_epochs
    for values in vars(history).values():
        assert len(values) == history.num_epochs
    assert history.test_accuracy[-1] == read_manifest()[name]["test_accuracy"]


def test_load_history_of_a_missing_network(tmp_path):
    with pytest.raises(FileNotFoundError, match="mlp-history.json"):
        pretrained.load_history("mlp", tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_manifest_matches_the_committed_files(name):
    entry = read_manifest()[name]
    assert entry["epoch"] == pretrained.RECIPES[name].num_epochs
    paths = checkpoint_paths(MODELS_DIR / name, entry["epoch"])
    assert sha256_of(paths["symbol"]) == entry["symbol_sha256"]
    assert sha256_of(paths["params"]) == entry["params_sha256"]
    assert paths["history"].is_file()


def test_models_holds_only_the_published_files():
    expected = [MANIFEST_NAME]
    for name in NAMES:
        epoch = read_manifest()[name]["epoch"]
        expected += [f"{name}-{epoch:04d}.params", f"{name}-history.json"]
        expected += [f"{name}-symbol.json"]
    assert files_in(MODELS_DIR) == sorted(expected)


def test_train_pretrained_publishes_into_models_dir(mnist, tmp_path, monkeypatch):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    shutil.copyfile(MODELS_DIR / MANIFEST_NAME, models_dir / MANIFEST_NAME)
    (models_dir / "mlp-0007.params").write_bytes(b"an older, longer run")
    (models_dir / "mlp-0001.params").write_bytes(b"an older run of this length")
    (models_dir / "lenet-0003.params").write_bytes(b"another network's")
    monkeypatch.setitem(
        pretrained.RECIPES, "mlp", Recipe(num_epochs=1, max_shift=2, seed=1)
    )
    lines = []
    history = pretrained.train_pretrained(
        "mlp", small_mnist(mnist), models_dir, report=lines.append
    )

    assert history.num_epochs == 1 and len(lines) == 1
    assert files_in(models_dir) == [
        MANIFEST_NAME,
        "lenet-0003.params",
        "mlp-0001.params",
        "mlp-history.json",
        "mlp-symbol.json",
    ]
    manifest = json.loads((models_dir / MANIFEST_NAME).read_text())
    assert manifest["lenet"] == read_manifest()["lenet"]
    entry = manifest["mlp"]
    assert entry["epoch"] == 1
    assert entry["symbol_sha256"] == sha256_of(models_dir / "mlp-symbol.json")
    assert entry["params_sha256"] == sha256_of(models_dir / "mlp-0001.params")
    assert entry["test_accuracy"] == history.test_accuracy[-1]
    assert pretrained.load_history("mlp", models_dir) == history

    small = small_mnist(mnist)
    classifier = load_classifier("mlp", models_dir)
    accuracy = classifier.accuracy(small.test_images, small.test_labels)
    assert accuracy == pytest.approx(entry["test_accuracy"], abs=1e-9)
    assert accuracy > 0.3


def test_train_pretrained_creates_models_dir_and_manifest(mnist, tmp_path, monkeypatch):
    models_dir = tmp_path / "new" / "models"
    monkeypatch.setitem(pretrained.RECIPES, "mlp", Recipe(num_epochs=1))
    pretrained.train_pretrained("mlp", small_mnist(mnist, 500, 200), models_dir, None)
    assert sorted(json.loads((models_dir / MANIFEST_NAME).read_text())) == ["mlp"]
    assert files_in(models_dir) == [
        MANIFEST_NAME,
        "mlp-0001.params",
        "mlp-history.json",
        "mlp-symbol.json",
    ]


def test_train_pretrained_refuses_unknown_networks(mnist, tmp_path):
    with pytest.raises(ValueError, match="cnn"):
        pretrained.train_pretrained("cnn", small_mnist(mnist, 100, 100), tmp_path)
    assert files_in(tmp_path) == []


def test_main_refuses_unknown_networks(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["pretrained", "mlp", "cnn"])
    with pytest.raises(SystemExit) as exit_info:
        pretrained.main()
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "unknown networks ['cnn']: choose from ['lenet', 'mlp']" in message
