"""``spikefab run``: load the network into the board on ``--port``, run samples (random, or
the trains of ``--spikes``) and compare every answer with the golden model. A bitstream built
with the on-chip input encoder (``spikefab synth --encoder``) gets images (``--pixels``, or
random ones) as ``PIXELS`` frames instead, and the golden model the device's code of them. The options and
the network selection are :mod:`spikefab.cli.board_options`. A bitstream built with early
exit (``spikefab synth --exit``) says so in its identity: ``--exit`` must agree with it, or is
taken from it; the golden model then runs with the same rule, and the steps each sample ran
are compared too."""

import numpy as np

from spikefab.boards.host import typical_inputs
from spikefab.cli import board_options
from spikefab.cli.args import exit_flag, exit_value, fail
from spikefab.cli.board_options import baud_of, load_array, network_and_config, read_spikes
from spikefab.model import simulate

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab run``'s options."""
    board_options.add_arguments(parser, "run")


def run(args):
    """``spikefab run``: load the network into the board on ``--port`` and compare its
    answers with the golden model."""
    from spikefab.boards.host import Device, open_serial
    from spikefab.boards.protocol import ProtocolError

    if not args.port:
        raise fail("no serial port given; use PORT=/dev/ttyUSB1 (make run) or --port")
    network, config = network_and_config(args)
    if args.spikes and args.pixels:
        raise fail("--spikes and --pixels are two kinds of samples; give one")
    trains = read_spikes(args.spikes, network, args.steps) if args.spikes else None
    baud, source = baud_of(args)
    print(f"{args.port}: {baud:,} baud ({source})")
    try:
        device = Device(open_serial(args.port, baud, timeout=2.0))
        placements = device.check(network, config)
        rule, steps = device_exit(device.identity, getattr(args, "exit", None))
        if trains is not None and rule is not None and trains.shape[1] != steps:
            raise fail(f"--spikes: T = {trains.shape[1]} steps; the device's early exit "
                       f"({exit_flag(rule)}) is built for samples of {steps} steps")
        device.load(network, placements=placements, progress=True)
        encoder = getattr(device.identity, "encoder", None)
        if args.pixels and encoder is None:
            raise fail(f"--pixels: the device on {args.port} has no on-chip input encoder "
                       f"(spikefab synth --encoder builds one); send --spikes instead")
        if encoder == "direct" and args.spikes:
            raise fail(f"--spikes: the device on {args.port} runs a direct network, whose "
                       f"samples are images (--pixels, or leave both out for random ones); "
                       f"spikes cannot carry their values")
        if trains is None and encoder is not None:
            pixels, trains = _images(args, network, device.identity)
            results = device.infer_pixels(pixels, progress=True)
        elif trains is None:
            trains = typical_inputs(network, samples=args.samples,
                                    steps=args.steps if rule is None else steps)
        if encoder is None or args.spikes:
            results = device.infer(trains, progress=True)
    except (OSError, ProtocolError, ValueError, TypeError) as error:
        raise fail(error) from None
    golden = simulate(network, trains, exit=rule)
    agree = sum(r.cls == c and list(r.counts) == list(k) and (rule is None or r.steps == s)
                for r, c, k, s in zip(results, golden.predicted, golden.counts, golden.ran))
    shown = " ".join(str(r.cls) for r in results[:20])
    print(f"{len(results)} samples; classes{' of the first 20' if len(results) > 20 else ''}: "
          f"{shown}{' …' if len(results) > 20 else ''}")
    print("agreement with the golden model (class and every count"
          + ("" if rule is None else f"; early exit {exit_flag(rule)}: the steps run, mean "
             f"{golden.ran.mean():.2f} of {trains.shape[1]}") + f"): {agree}/{len(results)}")
    print(counters_table(device.counters()))
    if agree != len(results):
        raise fail("the board disagrees with the golden model")


def _images(args, network, identity):
    """``(pixels, trains)``: the images for a device with the on-chip encoder (``--pixels``, or
    ``--samples`` random ones, about half of the pixels dark) and their spike trains in the
    device's own code (kind, x_bits, T and seed of its identity)."""
    from spikefab.boards.host import encoder_trains
    x_max = (1 << identity.encoder_x_bits) - 1
    if args.pixels:
        pixels = load_array(args.pixels, "pixels", "images")
        if pixels.ndim == 1:
            pixels = pixels[None]
        if (pixels.ndim != 2 or pixels.shape[1] != network.n_inputs or not len(pixels)
                or not np.issubdtype(pixels.dtype, np.integer)
                or pixels.min() < 0 or pixels.max() > x_max):
            raise fail(f"--pixels {args.pixels}: shape {pixels.shape}, dtype {pixels.dtype}; "
                       f"allowed: [B, {network.n_inputs}] integers in [0, {x_max}] (the "
                       f"device's x_bits = {identity.encoder_x_bits})")
    else:
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, x_max + 1, size=(args.samples, network.n_inputs))
        pixels[rng.random(pixels.shape) < 0.5] = 0
    print(f"{len(pixels)} images as PIXELS through the device's {identity.encoder} encoder "
          f"(T = {identity.encoder_steps}, k = {identity.encoder_scan})")
    return pixels, encoder_trains(identity, pixels)


def device_exit(identity, given=None):
    """``(rule, T)``: the early exit the device's ``identity`` says its bitstream was built
    with (``None, None`` without), checked against ``--exit`` ``given`` (``None``: not given,
    take the device's); one ``error: …`` line when they differ."""
    rule = None
    if identity.exit is not None:
        rule = "exact" if identity.exit == "exact" else ("margin", identity.exit_margin)
    if given is not None and exit_flag(exit_value(given)) != exit_flag(rule):
        raise fail(f"--exit {exit_flag(exit_value(given))}: the device was built with early "
                   f"exit {exit_flag(rule)}; give --exit {exit_flag(rule)} or leave it out "
                   f"(spikefab synth --exit builds another)")
    return rule, (None if rule is None else identity.exit_steps)


def counters_table(counters):
    """The device's ``COUNTERS`` (:meth:`~spikefab.boards.host.Device.counters`) as a table
    a person reads: one row per layer, then the flags."""
    from spikefab.studies.report import table
    names = ("events", "words", "synaptic_updates", "busy", "stall")
    titles = ("events", "weight words", "synaptic updates", "busy cycles", "stall cycles")
    if counters["layers"] and "dropped" in counters["layers"][0]:    # a build with early exit
        names, titles = names + ("dropped",), titles + ("dropped events",)
    rows = [(index + 1, *(f"{layer[name]:,}" for name in names), f"{high:,}")
            for index, (layer, high) in enumerate(zip(counters["layers"],
                                                      counters["high_water"]))]
    header = ("layer", *titles, "queue high-water")
    flags = (f"error flag {'set' if counters['error'] else 'clear'}; "
             f"{'idle' if counters['idle'] else 'busy'}; a sample is "
             f"{'open' if counters['sample_open'] else 'not open'}")
    return "\n".join(["device counters:", table(header, rows), flags])
