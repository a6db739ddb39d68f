"""Built-in reference networks: deterministic random integer networks of a given shape,
used by ``make bench``, ``make demo`` (until training lands) and ``make verilog``."""

import numpy as np

from .network import Layer, Network
from .quantize import prune

__all__ = ["reference_network"]


def reference_network(sizes=(784, 256, 10), *, density=0.5, w_bits=8, seed=1):
    """A seeded, reproducible random network of the given sizes: ``w_bits`` weights pruned
    to ``density``, shift leak ``k = 3``, thresholds set so that roughly 5-15% of hidden
    neurons fire per step at 10% input activity."""
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    layers = []
    for fan_in, n in zip(sizes, sizes[1:]):
        weights = prune(rng.integers(lo, hi + 1, size=(n, fan_in)), density)
        # Mean positive drive of a 10%-active input: 0.1 * fan_in * density * E[w | w > 0] / 2
        theta = max(1, int(0.1 * fan_in * density * hi / 4))
        layers.append(Layer(weights, theta=theta, w_bits=w_bits, v_bits=20, leak="shift", k=3))
    return Network(layers)
