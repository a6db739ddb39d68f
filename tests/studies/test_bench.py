"""The benchmark's synaptic-event count (studies/bench.py), by hand: a fully connected layer
counts its neurons per arriving spike, a convolutional layer the outputs its kernel reaches
times its output channels."""

import numpy as np

from spikefab.model import Layer, Network, simulate
from spikefab.model.conv import Conv2dGeometry, ConvLayer, sum_pool_geometry
from spikefab.studies.bench import synapses_per_input, synaptic_events


def test_a_conv_layer_counts_the_outputs_each_input_reaches():
    # 1 x 3 x 3 input, 2 x 2 kernel, 2 output channels, no padding: 2 x 2 x 2 outputs.
    # The corner (0, 0) reaches output (0, 0) only; the edge (0, 1) two; the centre all four.
    layer = ConvLayer(kernel=np.zeros((2, 1, 2, 2), dtype=int), theta=1,
                      geometry=Conv2dGeometry(1, 3, 3, 2, 2))
    assert synapses_per_input(layer).reshape(3, 3).tolist() == [[2, 4, 2], [4, 8, 4],
                                                                [2, 4, 2]]


def test_a_pooled_conv_layer_counts_through_its_pool():
    # a 2 x 2 sum pool of a 1 x 4 x 4 map, then a 1 x 1 kernel: every input reaches 1 output,
    # times 3 channels
    layer = ConvLayer(kernel=np.ones((3, 1, 1, 1), dtype=int), theta=1,
                      geometry=Conv2dGeometry(1, 2, 2, 3, 1), pool=sum_pool_geometry(1, 4, 4, 2))
    assert synapses_per_input(layer).tolist() == [3] * 16


def test_synaptic_events_add_every_layer():
    conv = ConvLayer(kernel=np.ones((2, 1, 2, 2), dtype=int), theta=1,
                     geometry=Conv2dGeometry(1, 3, 3, 2, 2))
    readout = Layer(np.ones((5, 8), dtype=int), theta=1)
    network = Network([conv, readout])
    spikes = np.zeros((1, 2, 9), dtype=bool)
    spikes[0, 0, 4] = True            # the centre at step 0: 8 synapses
    spikes[0, 1, 0] = True            # a corner at step 1: 2 synapses
    result = simulate(network, spikes)
    assert synaptic_events(network, result) == 8 + 2 + int(result.spikes[0].sum()) * 5


def test_position_bank_estimate_by_hand():
    """A 3×3 kernel, stride 1, padding 1 on a 1×3×3 map, 2 channels on 2 lanes (G = 1): the
    centre input reaches all 9 positions (9 cycles today), a corner 4 (4 cycles); with
    3·3 = 9 banks each takes the two-cycle minimum. One image, both spikes in one step."""
    import numpy as np
    from spikefab.model import Layer, Network
    from spikefab.model.conv import Conv2dGeometry, ConvLayer
    from spikefab.studies.bench import position_bank_estimate
    conv = ConvLayer(kernel=np.ones((2, 1, 3, 3), dtype=int),
                     geometry=Conv2dGeometry(1, 3, 3, 2, 3, padding=1), theta=50)
    network = Network([conv, Layer(np.ones((2, 18), dtype=int), theta=5)])
    trains = np.zeros((1, 2, 9), dtype=bool)
    trains[0, 0, [4, 0]] = True
    (row,) = position_bank_estimate(network, trains, lanes=2)
    assert row == {"layer": 0, "spikes": 2.0, "today": 13.0, "banked": 4.0, "banks": 9}
