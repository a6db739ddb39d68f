"""The design the host-link fuzzer (:mod:`spikefab.sim.link_fuzz`) runs: its small network
(:func:`fuzz_network`), the :class:`~spikefab.boards.link.HostLink` around it
(:func:`make_link`, with or without early exit) and the cycle model of a sample the link
feeds (:func:`link_cycle_model`). All three are also importable from
:mod:`spikefab.sim.link_fuzz`.
"""

import numpy as np

from spikefab.boards.link import EVENT_INTERVAL, HostLink
from spikefab.boards.link import link_cycle_model as board_link_cycle_model
from spikefab.hw.accelerator import HARDWARE_TIMING
from spikefab.model import HardwareConfig, Layer, Network, compile_weights, cycle_model, simulate
from spikefab.sim.random_networks import random_weights

__all__ = ["LINK_EVENT_INTERVAL", "fuzz_network", "link_cycle_model", "make_link"]

#: The link's EVENTS push offers the next event 4 cycles after each transfer.
LINK_EVENT_INTERVAL = EVENT_INTERVAL


# -- the network under test ----------------------------------------------------------------
def fuzz_network(seed=0, fmt="csc", mode="sparse"):
    """The small network the fuzzer runs (6-7-3, csc on 2 lanes, queue depth 4), a second
    network of the same shape with other weights (the valid reloads switch between them),
    and a *poison* one (sent only in frames that must be refused)."""
    rng = np.random.default_rng(seed)

    def make():
        w1 = random_weights(rng, (7, 6), 4, 0.65)
        w2 = random_weights(rng, (3, 7), 4, 0.8)
        return Network([Layer(w1, theta=4, w_bits=4, v_bits=8, leak="shift", k=2),
                        Layer(w2, theta=3, w_bits=4, v_bits=8, timing="delayed")])

    first, second, poison = make(), make(), make()
    config = HardwareConfig.uniform(first, lanes=2, format=fmt, queue_depth=4, mode=mode)
    return first, second, poison, config


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


def make_link(fmt="csc", *, mode="sparse", divisor=4, timeout=200, seed=0,
              link_class=HostLink, exit=None, steps=12):
    """The HostLink the fuzzer runs (``timeout`` cycles of silence end a frame), its
    weights, poison and configuration; ``link_class`` builds it (a changed copy of
    :class:`~spikefab.boards.link.HostLink`, to check that the fuzzer catches the change).
    ``exit`` (``"exact"`` or ``("margin", m)``) builds early exit in, for samples of
    ``steps`` steps (of at most 15, the counts' width)."""
    first, second, poison, config = fuzz_network(seed, fmt, mode)
    link = link_class(first, config, divisor=divisor, timeout=timeout, max_steps=15,
                      capacity=_capacity((first, second, poison), config),
                      **({} if exit is None else {"exit": exit, "steps": steps}))
    return link, (first, second), poison, config


def _capacity(networks, config):
    """Weight-memory depth per layer: room for the longest of the images, and unused words
    past it (``None`` for dense, whose images all have one size)."""
    if config.layers[0].format == "dense":
        return None
    return [max(len(compile_weights(net[index], c.lanes, c.format).memories["weights"].words)
                for net in networks) + 8
            for index, c in enumerate(config.layers)]
