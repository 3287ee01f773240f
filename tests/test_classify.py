"""Tests of helpers.classify: the pretrained checkpoints, input checks, rebinding."""

import json
import shutil

import numpy as np
import pytest

from helpers.classify import (
    MANIFEST_NAME,
    CheckpointError,
    Classifier,
    as_image_batch,
    classifier_from_module,
    load_classifier,
    read_manifest,
)
from helpers.iterators import make_iterator
from helpers.training import (
    MODELS_DIR,
    Recipe,
    checkpoint_paths,
    evaluate,
    fit,
    seed_everything,
)

# The acceptance thresholds of the committed checkpoints on the 10,000 test images.
REQUIRED_ACCURACY = {"mlp": 0.98, "lenet": 0.992}


@pytest.fixture(scope="module")
def mlp_classifier():
    return load_classifier("mlp")


@pytest.fixture(scope="module")
def lenet_classifier():
    return load_classifier("lenet")


@pytest.fixture(scope="module")
def classifiers(mlp_classifier, lenet_classifier):
    return {"mlp": mlp_classifier, "lenet": lenet_classifier}


@pytest.fixture
def models_copy(tmp_path):
    """A private copy of models/, safe to damage."""
    folder = tmp_path / "models"
    shutil.copytree(MODELS_DIR, folder)
    return folder


def test_pretrained_mlp_passes_its_accuracy_threshold(mlp_classifier, mnist):
    accuracy = mlp_classifier.accuracy(mnist.test_images, mnist.test_labels)
    assert accuracy >= REQUIRED_ACCURACY["mlp"], f"accuracy {accuracy:.4f}"
    recorded = read_manifest()["mlp"]["test_accuracy"]
    assert accuracy == pytest.approx(recorded, abs=2e-4)


@pytest.mark.slow
def test_pretrained_lenet_passes_its_accuracy_threshold(lenet_classifier, mnist):
    accuracy = lenet_classifier.accuracy(mnist.test_images, mnist.test_labels)
    assert accuracy >= REQUIRED_ACCURACY["lenet"], f"accuracy {accuracy:.4f}"
    recorded = read_manifest()["lenet"]["test_accuracy"]
    assert accuracy == pytest.approx(recorded, abs=2e-4)


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_probabilities_have_one_row_per_image(classifiers, mnist, name):
    classifier = classifiers[name]
    assert classifier.name == name
    single = classifier.predict_proba(mnist.test_images[0])
    assert single.shape == (1, 10)
    probabilities = classifier.predict_proba(mnist.test_images[:30])
    assert probabilities.shape == (30, 10)
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(single[0], probabilities[0], rtol=1e-5, atol=1e-7)
    predictions = classifier.predict(mnist.test_images[:30])
    assert predictions.shape == (30,)
    assert np.issubdtype(predictions.dtype, np.integer)
    np.testing.assert_array_equal(predictions, probabilities.argmax(axis=1))
    assert classifier.predict(mnist.test_images[0]).tolist() == [7]


def test_an_empty_batch_gives_no_rows(mlp_classifier):
    empty = np.zeros((0, 28, 28), dtype=np.uint8)
    assert mlp_classifier.predict_proba(empty).shape == (0, 10)
    assert mlp_classifier.predict(empty).shape == (0,)


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_uint8_and_float_images_give_the_same_answers(classifiers, mnist, name):
    classifier = classifiers[name]
    images = mnist.test_images[:50]
    from_uint8 = classifier.predict_proba(images)
    for dtype in (np.float32, np.float64):
        from_float = classifier.predict_proba(images.astype(dtype) / 255)
        np.testing.assert_allclose(from_float, from_uint8, rtol=1e-5, atol=1e-6)
    from_int = classifier.predict_proba(images.astype(np.int64))
    np.testing.assert_allclose(from_int, from_uint8, rtol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_every_batch_size_gives_the_same_answers(classifiers, mnist, name):
    classifier = classifiers[name]
    images = mnist.test_images[:250]
    whole = classifier.predict_proba(images)
    for count in (1, 7, 100, 250, 7, 1, 100):
        part = classifier.predict_proba(images[:count])
        np.testing.assert_allclose(part, whole[:count], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        classifier.predict_proba(images), whole, rtol=1e-5, atol=1e-6
    )


def test_as_image_batch_scales_and_adds_a_channel():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[3, 4] = 255
    image[5, 6] = 51
    batch = as_image_batch(image)
    assert batch.shape == (1, 1, 28, 28) and batch.dtype == np.float32
    assert batch[0, 0, 3, 4] == 1 and batch[0, 0, 5, 6] == pytest.approx(0.2)
    floats = as_image_batch(np.ones((3, 28, 28), dtype=np.float64))
    assert floats.shape == (3, 1, 28, 28) and floats.dtype == np.float32
    assert as_image_batch([[0] * 28] * 28).shape == (1, 1, 28, 28)


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((28, 27)),
        np.zeros((27, 28)),
        np.zeros((2, 1, 28, 28)),
        np.zeros(784),
        np.zeros((3, 28, 29)),
        np.float64(0.5),
    ],
    ids=["28x27", "27x28", "nchw", "flat", "3x28x29", "scalar"],
)
def test_wrong_shapes_are_refused(mlp_classifier, images):
    with pytest.raises(ValueError, match=r"expected images of shape \(28, 28\)"):
        mlp_classifier.predict_proba(images)


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((28, 28), dtype=bool),
        np.zeros((28, 28), dtype=object),
        np.zeros((28, 28), dtype=complex),
        np.full((28, 28), "a"),
    ],
    ids=["bool", "object", "complex", "str"],
)
def test_wrong_dtypes_are_refused(mlp_classifier, images):
    with pytest.raises(
        TypeError, match=f"expected uint8 or float images.*{images.dtype}"
    ):
        mlp_classifier.predict_proba(images)


@pytest.mark.parametrize(
    "value, message",
    [
        (np.nan, "NaN or infinite"),
        (np.inf, "NaN or infinite"),
        (-0.5, "float images must lie in 0-1, got -0.5"),
        (1.5, "float images must lie in 0-1, got 0 to 1.5"),
    ],
)
def test_float_values_outside_0_1_are_refused(mlp_classifier, value, message):
    images = np.zeros((2, 28, 28), dtype=np.float32)
    images[1, 14, 14] = value
    with pytest.raises(ValueError, match=message):
        mlp_classifier.predict_proba(images)


@pytest.mark.parametrize(
    "value, dtype, message",
    [
        (256, np.int64, "integer images must lie in 0-255, got 0 to 256"),
        (-1, np.int16, "integer images must lie in 0-255, got -1 to 0"),
        (-128, np.int8, "got -128"),
    ],
)
def test_integer_values_outside_0_255_are_refused(
    mlp_classifier, value, dtype, message
):
    images = np.zeros((28, 28), dtype=dtype)
    images[0, 0] = value
    with pytest.raises(ValueError, match=message):
        mlp_classifier.predict_proba(images)


@pytest.mark.parametrize("name", ["cnn", "MLP", "", None])
def test_unknown_networks_are_refused(name):
    with pytest.raises(ValueError, match="expected 'mlp' or 'lenet'"):
        load_classifier(name)


def test_a_copy_of_models_loads(models_copy, mlp_classifier, mnist):
    copy = load_classifier("mlp", models_copy)
    images = mnist.test_images[:20]
    np.testing.assert_array_equal(
        copy.predict_proba(images), mlp_classifier.predict_proba(images)
    )


def test_missing_manifest(models_copy):
    (models_copy / MANIFEST_NAME).unlink()
    with pytest.raises(CheckpointError, match=r"MANIFEST.json is missing.*make models"):
        load_classifier("mlp", models_copy)


def test_damaged_manifest(models_copy):
    (models_copy / MANIFEST_NAME).write_text('{"mlp": ')
    with pytest.raises(CheckpointError, match=r"MANIFEST.json is damaged.*make models"):
        load_classifier("mlp", models_copy)


def test_manifest_without_the_network(models_copy):
    manifest = json.loads((models_copy / MANIFEST_NAME).read_text())
    del manifest["lenet"]
    (models_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(
        CheckpointError, match=r"no checkpoint named 'lenet'.*make models"
    ):
        load_classifier("lenet", models_copy)
    assert load_classifier("mlp", models_copy).name == "mlp"


def checkpoint_file_name(models_dir, name, kind):
    """The name of the symbol or params file the manifest points at."""
    epoch = read_manifest(models_dir)[name]["epoch"]
    return checkpoint_paths(models_dir / name, epoch)[kind].name


@pytest.mark.parametrize("name", ["mlp", "lenet"])
@pytest.mark.parametrize("kind", ["symbol", "params"])
def test_missing_checkpoint_files(models_copy, name, kind):
    file_name = checkpoint_file_name(models_copy, name, kind)
    (models_copy / file_name).unlink()
    with pytest.raises(CheckpointError, match=rf"{file_name} is missing.*make models"):
        load_classifier(name, models_copy)


@pytest.mark.parametrize("name", ["mlp", "lenet"])
@pytest.mark.parametrize("kind", ["symbol", "params"])
def test_damaged_checkpoint_files(models_copy, name, kind):
    file_name = checkpoint_file_name(models_copy, name, kind)
    path = models_copy / file_name
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(CheckpointError, match=rf"{file_name} is damaged.*make models"):
        load_classifier(name, models_copy)


def test_checkpoint_error_is_a_runtime_error():
    assert issubclass(CheckpointError, RuntimeError)


def test_classifier_from_module_wraps_a_trained_module(mnist):
    seed_everything(0)
    train_iter = make_iterator(
        mnist.train_images[:1000], mnist.train_labels[:1000], 100, shuffle=True
    )
    test_images, test_labels = mnist.test_images[:500], mnist.test_labels[:500]
    test_iter = make_iterator(test_images, test_labels, 100)
    module, history = fit(
        "mlp", train_iter, test_iter, Recipe(num_epochs=1), report=None
    )
    classifier = classifier_from_module(module, name="tiny")
    assert isinstance(classifier, Classifier) and classifier.name == "tiny"
    accuracy, _ = evaluate(module, test_iter)
    assert classifier.accuracy(test_images, test_labels) == accuracy
    assert accuracy == history.test_accuracy[-1]
    test_iter.reset()
    batch = next(iter(test_iter))
    module.forward(batch, is_train=False)
    np.testing.assert_allclose(
        classifier.predict_proba(test_images[:100]),
        module.get_outputs()[0].asnumpy(),
        rtol=1e-5,
        atol=1e-7,
    )
