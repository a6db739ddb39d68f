"""The MNIST demo's parts (:mod:`spikefab.studies.mnist_demo`): the field-by-field network
comparison of its NIR round trip and its data. The whole demo, as a user runs it, is
tests/cli/test_demo.py."""

import numpy as np

from spikefab.model import Network, reference_network
from spikefab.studies.mnist_demo import MnistDemo, load, same_network


def test_same_network_names_every_field_that_differs():
    network = reference_network((16, 12, 4), w_bits=4)
    assert same_network(network, network) == []
    assert same_network(network, reference_network((16, 8, 4), w_bits=4)) == [
        "shape (16, 12, 4) vs (16, 8, 4)"]
    weights = network[1].weights.copy()
    weights[0, 0] = 1 - weights[0, 0]
    other = Network((network[0].replace(bias=network[0].bias + 1, theta=network[0].theta + 1),
                     network[1].replace(weights=weights)))
    assert same_network(network, other) == [
        f"layer 1 theta: {network[0].theta} vs {network[0].theta + 1}", "layer 1 bias",
        "layer 2 weights"]


def test_load_gives_8_bit_intensities_of_the_sizes_asked_for():
    x_train, y_train, x_test, y_test = load(MnistDemo(train=60, test=20))
    assert x_train.shape == (60, 784) and x_test.shape == (20, 784)
    assert len(y_train) == 60 and len(y_test) == 20
    assert x_train.dtype.kind in "iu" and 0 <= x_train.min() and x_train.max() <= 255
    assert np.array_equal(x_train, np.round(x_train))
