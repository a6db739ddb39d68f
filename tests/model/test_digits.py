"""spikefab.model.digits, the built-in digits classifier: its training is scikit-learn's own
MLPClassifier (checked against a direct fit), its pruning keeps the asked share balanced over
the lanes, and its network is convert_mlp of the trained weights."""

import numpy as np
import pytest

from spikefab.model import (DIGITS, convert_mlp, digits_network, encode_images, load_dataset,
                            mlp_network, simulate, train_mlp)

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def split():
    return load_dataset("digits", train=300, test=60)


def test_unpruned_training_is_a_plain_scikit_learn_fit(split):
    from sklearn.neural_network import MLPClassifier
    mlp, (coefs, _) = train_mlp(split.x_train, split.y_train, hidden=16, density=1.0, seed=3)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = MLPClassifier(hidden_layer_sizes=(16,), activation="relu", max_iter=300,
                                  alpha=1e-3, random_state=3).fit(split.x_train, split.y_train)
    for ours, theirs, before in zip(mlp.coefs_, reference.coefs_, coefs):
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(before, theirs)


def test_pruning_keeps_the_share_balanced_over_the_lanes(split):
    mlp, _ = train_mlp(split.x_train, split.y_train, hidden=16, density=0.5, lanes=4,
                       epochs=3, seed=0)
    hidden = mlp.coefs_[0].T != 0                     # (16 neurons, 64 inputs)
    assert hidden.mean() == pytest.approx(0.5, abs=0.01)
    per_lane = [hidden[lane::4].sum() for lane in range(4)]
    assert max(per_lane) - min(per_lane) <= 1
    assert (mlp.coefs_[1] != 0).mean() == pytest.approx(0.5, abs=0.02)


def test_the_network_is_convert_mlp_of_the_trained_weights(split):
    mlp, _ = train_mlp(split.x_train, split.y_train, hidden=12, density=0.5, lanes=2,
                       epochs=2)
    network = mlp_network(mlp, split.x_train, w_bits=4, density=0.5, lanes=2)
    reference = convert_mlp([w.T for w in mlp.coefs_], list(mlp.intercepts_), split.x_train,
                            w_bits=4, density=[0.5, 0.5], lanes=[2, None])
    for ours, theirs in zip(network, reference):
        np.testing.assert_array_equal(ours.weights, theirs.weights)
        assert ours.theta == theirs.theta


def test_the_demo_network_has_the_demo_shape():
    network, split, _ = digits_network(hidden=DIGITS["hidden"])
    assert network.shape == (64, DIGITS["hidden"], 10)
    assert len(split.x_test) == 360
    assert all(layer.w_bits == DIGITS["w_bits"] for layer in network)
    # Early exit, exact (docs/design.md §2): every test image keeps its full-T class.
    trains = encode_images(split.x_test, DIGITS["steps"], DIGITS["encoder"])
    full, early = simulate(network, trains), simulate(network, trains, exit="exact")
    assert np.array_equal(early.predicted, full.predicted)
    assert early.ran.mean() < DIGITS["steps"]                 # and it does end early
