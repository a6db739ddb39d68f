"""The design the host-link fuzzer (:mod:`spikefab.sim.link_fuzz`) runs: its small network
(:func:`fuzz_network`), the :class:`~spikefab.boards.link.HostLink` around it
(:func:`make_link`, with or without early exit) and the cycle model of a sample the link
feeds (:func:`link_cycle_model`). All three are also importable from
:mod:`spikefab.sim.link_fuzz`.

The fuzzer runs the network with :data:`FUZZ_INPUTS` (600) inputs: a ``SPIKES`` code moves
the cursor at most 251 inputs on, so a gap of 252 inputs or more between a step's spikes
needs a ``SKIP`` code (252), and one of 504 or more two in a row. Only nine of the inputs
carry synapses (:func:`live_inputs`: three groups of three, at the start, the middle and the
end, about 300 apart), so the weight memories, the ``LOAD`` frames and the Verilator build
stay as small as the 6-input network's, and the fuzzer sends spikes mostly to them
(:mod:`spikefab.sim.link_fuzz_frames`). ``fuzz_network()`` and ``make_link()`` still default
to the 6-input network (6-7-3) that the gate-level board test and the harness tests run.
"""

import numpy as np

from spikefab.boards.link import EVENT_INTERVAL, HostLink
from spikefab.boards.link import link_cycle_model as board_link_cycle_model
from spikefab.hw.accelerator import HARDWARE_TIMING
from spikefab.model import HardwareConfig, Layer, Network, compile_weights, cycle_model, simulate
from spikefab.sim.random_networks import random_weights

__all__ = ["FUZZ_ENCODER", "FUZZ_INPUTS", "LINK_EVENT_INTERVAL", "fuzz_network", "link_cycle_model",
           "live_inputs", "make_link"]

#: The link's EVENTS push offers the next event 4 cycles after each transfer.
LINK_EVENT_INTERVAL = EVENT_INTERVAL

#: The inputs of the network ``spikefab fuzz`` runs: more than 504, so a step's spikes may
#: need two ``SKIP`` codes in a row.
FUZZ_INPUTS = 600
#: The widest network :func:`fuzz_network` makes (the event address has 14 bits).
MAX_FUZZ_INPUTS = 1 << 14


# -- the network under test ----------------------------------------------------------------
def live_inputs(inputs):
    """The inputs of :func:`fuzz_network` ``(inputs=...)`` that carry synapses: all of them up
    to 9 inputs, else three groups of three: the first, the middle and the last three."""
    if inputs <= 9:
        return np.arange(inputs)
    middle = (inputs - 3) // 2
    return np.array([0, 1, 2, middle, middle + 1, middle + 2,
                     inputs - 3, inputs - 2, inputs - 1])


def fuzz_network(seed=0, fmt="csc", mode="sparse", inputs=6, x_bits=None):
    """The small network the fuzzer runs (``inputs``-7-3, csc on 2 lanes, queue depth 4), a
    second network of the same shape with other weights (the valid reloads switch between
    them), and a *poison* one (sent only in frames that must be refused). Only the
    :func:`live_inputs` have synapses (all of them up to 9 inputs); ``inputs`` is 6 to
    16,384. ``x_bits`` (1 to 16) makes the first layer direct (docs/design.md §13):
    ``x_shift`` = ``x_bits - 3`` (at least 0) and one threshold for the three networks, the
    median of the positive held currents of 64 images as the fuzzer draws them (half the
    pixels 0, the others uniform) on the first network, so its neurons fire on some images
    and not on others."""
    if not 6 <= inputs <= MAX_FUZZ_INPUTS:
        raise ValueError(f"a fuzz network has 6 to {MAX_FUZZ_INPUTS} inputs, not {inputs}")
    if x_bits is not None and not (isinstance(x_bits, int) and 1 <= x_bits <= 16):
        raise ValueError(f"x_bits of a direct fuzz network is 1 to 16, not {x_bits!r}")
    rng = np.random.default_rng(seed)
    live = live_inputs(inputs)

    def make():
        w1 = np.zeros((7, inputs), dtype=np.int64)
        w1[:, live] = random_weights(rng, (7, len(live)), 4, 0.65)
        w2 = random_weights(rng, (3, 7), 4, 0.8)
        return Network([Layer(w1, theta=4, w_bits=4, v_bits=8, leak="shift", k=2),
                        Layer(w2, theta=3, w_bits=4, v_bits=8, timing="delayed")])

    first, second, poison = make(), make(), make()
    if x_bits is not None:
        first, second, poison = _direct((first, second, poison), x_bits, rng)
    config = HardwareConfig.uniform(first, lanes=2, format=fmt, queue_depth=4, mode=mode)
    return first, second, poison, config


def _direct(networks, x_bits, rng):
    """``networks`` with a direct first layer of ``x_bits`` (see :func:`fuzz_network`)."""
    x_shift = max(0, x_bits - 3)
    first = networks[0][0]
    x = rng.integers(0, 1 << x_bits, size=(64, first.fan_in))
    x[rng.random(x.shape) < 0.5] = 0
    current = (x @ first.weights.T) >> x_shift
    positive = current[current > 0]
    theta_max = (1 << (first.v_bits - 1)) - 2
    theta = int(np.clip(np.median(positive) if positive.size else 1, 1, theta_max))
    return tuple(Network((net[0].replace(theta=theta, x_bits=x_bits, x_shift=x_shift),)
                         + net.layers[1:]) for net in networks)


def link_cycle_model(network, trains, config, interval=LINK_EVENT_INTERVAL, exit=None,
                     frames=None):
    """Result cycles of one sample fed by the host link after a ``RESET``
    (:func:`spikefab.boards.link.link_cycle_model` with one ``EVENTS`` frame, or ``frames``):
    ``(finish, layers)``, the
    cycle (from the first event, cycle 0) of each result and the per-layer
    :class:`~spikefab.model.LayerCycles`. ``exit`` (a rule as ``simulate`` takes it): the
    early-exit cycle model (:mod:`spikefab.model.exit_cycles`) of the golden run with it."""
    if exit is None:
        report = board_link_cycle_model(network, trains, config, frames, interval=interval)
    else:
        config = HardwareConfig(config.layers, mode=config.mode, timing=HARDWARE_TIMING)
        report = cycle_model(network, simulate(network, trains, exit=exit), config,
                             frames=frames, interval=interval)
    return report.finish.tolist(), report.layers


#: The on-chip encoder ``spikefab fuzz --encoder KIND`` builds in (its ``kind`` added): 7-bit
#: pixels, so a pixel above ``x_max`` is a byte the link must refuse; 6 steps; 4 inputs a
#: cycle.
FUZZ_ENCODER = {"steps": 6, "scan": 4, "x_bits": 7}


def make_link(fmt="csc", *, mode="sparse", divisor=4, timeout=200, seed=0,
              link_class=HostLink, exit=None, steps=12, inputs=6, encoder=None):
    """The HostLink the fuzzer runs (``timeout`` cycles of silence end a frame), its
    weights, poison and configuration; ``link_class`` builds it (a changed copy of
    :class:`~spikefab.boards.link.HostLink`, to check that the fuzzer catches the change).
    ``exit`` (``"exact"`` or ``("margin", m)``) builds early exit in, for samples of
    ``steps`` steps (of at most 15, the counts' width); ``inputs``: the network's
    (:func:`fuzz_network`; ``spikefab fuzz`` runs :data:`FUZZ_INPUTS`); ``encoder``
    (``"rate"``, ``"latency"`` or ``"direct"``): the on-chip encoder of :data:`FUZZ_ENCODER`
    in that code (``direct``: the networks' first layer direct, of its ``x_bits``)."""
    direct = encoder == "direct"
    first, second, poison, config = fuzz_network(
        seed, fmt, mode, inputs, x_bits=FUZZ_ENCODER["x_bits"] if direct else None)
    options = {} if exit is None else {"exit": exit, "steps": steps}
    if encoder is not None:
        options["encoder"] = dict(FUZZ_ENCODER, kind=encoder)
    link = link_class(first, config, divisor=divisor, timeout=timeout, max_steps=15,
                      capacity=_capacity((first, second, poison), config), **options)
    return link, (first, second), poison, config


def _capacity(networks, config):
    """Weight-memory depth per layer: room for the longest of the images, and unused words
    past it (``None`` for dense, whose images all have one size)."""
    if config.layers[0].format == "dense":
        return None
    return [max(len(compile_weights(net[index], c.lanes, c.format).memories["weights"].words)
                for net in networks) + 8
            for index, c in enumerate(config.layers)]
