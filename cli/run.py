"""``spikefab run``: load the network into the board on ``--port``, run samples (random, or
the trains of ``--spikes``) and compare every answer with the golden model. The options and
the network selection are :mod:`spikefab.cli.board_options`. A bitstream built with early
exit (``spikefab synth --exit``) says so in its identity: ``--exit`` must agree with it, or is
taken from it; the golden model then runs with the same rule, and the steps each sample ran
are compared too."""

from spikefab.boards.host import typical_inputs
from spikefab.cli import board_options
from spikefab.cli.args import exit_flag, exit_value, fail
from spikefab.cli.board_options import baud_of, network_and_config, read_spikes
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
        if trains is None:
            trains = typical_inputs(network, samples=args.samples,
                                    steps=args.steps if rule is None else steps)
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
