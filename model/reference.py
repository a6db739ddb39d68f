"""Built-in reference networks: deterministic random integer networks of a given shape,
used by ``make bench``, ``make verilog`` and the board flow's default network."""

import numpy as np

from .network import Layer, Network
from .quantize import prune
from .simulate import simulate

__all__ = ["reference_network"]


def reference_network(sizes=(784, 256, 10), *, density=0.5, w_bits=8, seed=1,
                      input_activity=0.1, target_activity=0.1, steps=16, lanes=None):
    """A seeded, reproducible random network of the given sizes.

    Weights are uniform ``w_bits`` integers pruned to ``density`` — globally, or with
    ``lanes = P`` balanced per PE lane (see :func:`prune`); neurons use the shift leak
    ``k = 3`` and subtract reset. Each layer's threshold is calibrated on random input trains
    of ``input_activity`` so that at most ``target_activity`` of its neurons fire per step on
    average (the smallest such threshold) — realistic, sparse activity at every depth.
    """
    rng = np.random.default_rng(seed)
    hi = (1 << (w_bits - 1)) - 1
    calibration = rng.random((8, steps, sizes[0])) < input_activity
    layers = []
    for fan_in, n in zip(sizes, sizes[1:]):
        weights = prune(rng.integers(-hi, hi + 1, size=(n, fan_in)), density,   # symmetric
                        lanes=None if lanes is None else min(lanes, n))
        v_bits = min(32, max(12, (2 * hi * fan_in).bit_length() + 2))
        make = lambda theta: Layer(weights, theta=theta, w_bits=w_bits,  # noqa: E731
                                   v_bits=v_bits, leak="shift", k=3)
        low, high = 1, (1 << (v_bits - 1)) - 2
        while low < high:                     # smallest theta with activity <= target
            mid = (low + high) // 2
            activity = simulate(Network([make(mid)]), calibration).spikes[0].mean()
            if activity <= target_activity:
                high = mid
            else:
                low = mid + 1
        layer = make(low)
        layers.append(layer)
        calibration = simulate(Network([layer]), calibration).spikes[0]
    return Network(layers)
