"""The one command that rebuilds a reported design.

Every report that names a design (``spikefab compare``, both demos, the co-design study and
the design-space exploration) writes the design's network next to it with
:func:`save_design` (``Network.save``: weights, biases, bit widths and every neuron
parameter) and prints :func:`synth_command`, e.g.::

    spikefab synth --board ulx3s --network build/compare/spikefab-784-128-10.npz \\
        --lanes 128 10 --sweep-lanes 8 10 --format dense --queue-depth 16 --steps 100 \\
        --spikes build/compare/samples-T100.npz

That command builds exactly the board top the report built or names
(:func:`spikefab.boards.build.board_top` of the same network, the same per-layer
configuration, the same ``max_steps`` and baud rate, the weight stores placed by the same
memory rule), so the same Verilog and, with the same tool versions, the same bitstream; its
``--spikes`` are the samples the report's latency came from. Paths are written relative to
the working directory when they lie below it (as the user typed them), absolute otherwise.
"""

import os
import shlex
from pathlib import Path

import numpy as np

__all__ = ["design_name", "save_design", "save_samples", "synth_command", "user_path",
           "write_rebuild", "rebuild_report"]


def user_path(path):
    """``path`` as the user would type it in the working directory: relative when it lies
    below it, absolute otherwise."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def design_name(network, config=None):
    """``spikefab-784-128-10`` (and ``-P128x10-S8x10-dense`` with ``config``): a file name
    for a design's network."""
    name = "spikefab-" + "-".join(map(str, network.shape))
    if config is not None:
        name += ("-P" + "x".join(str(c.lanes) for c in config.layers)
                 + "-S" + "x".join(str(c.sweep_lanes) for c in config.layers)
                 + f"-{config.layers[0].format}")
    return name


def save_design(folder, name, network):
    """Write ``network`` to ``folder/name.npz`` (:meth:`~spikefab.model.Network.save`);
    returns the path."""
    path = Path(folder) / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    network.save(path)
    return path


def save_samples(folder, name, trains):
    """Write the spike trains ``[samples, steps, inputs]`` a report's latency came from to
    ``folder/name.npz`` (compressed, key ``spikes``; ``spikefab synth --spikes`` reads it);
    returns the path."""
    path = Path(folder) / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    trains = np.asarray(trains)
    if trains.ndim != 3:
        raise ValueError(f"trains must be [samples, steps, inputs], not shape {trains.shape}")
    with open(path, "wb") as file:
        np.savez_compressed(file, spikes=trains.astype(np.uint8))
    return path


def synth_command(board, network_path, config, *, steps, baud=None, spikes=None, out=None,
                  exit=None, clock_mhz=None, encoder=None):
    """The ``spikefab synth`` command line that builds ``config`` for the network in
    ``network_path`` on ``board`` with ``max_steps = steps`` (and ``baud``; default the
    board's :attr:`~spikefab.boards.registry.Board.default_baud`), as :func:`spikefab.boards.build.build_board` builds it; ``spikes``: the samples
    file of the latency figure; ``out``: the ``--out`` folder; ``exit``: the early-exit rule
    (``None``, ``"exact"`` or ``("margin", m)``: ``--exit exact`` / ``--exit margin:m``);
    ``clock_mhz``: the PLL clock (``--clock-mhz``; ``None``: the board oscillator), whose
    default baud rate (:func:`~spikefab.boards.registry.default_baud`) ``baud`` is compared
    with; ``encoder``: the on-chip input encoder of :class:`~spikefab.boards.link.HostLink`
    (``--encoder KIND --scan K``; its ``steps`` are ``steps``, its ``x_bits`` 8 and its seed
    the golden model's).

    Raises ``ValueError`` for a configuration ``spikefab synth`` cannot express (formats or
    queue depths that differ between layers, the dense baseline mode, another timing)."""
    from spikefab.boards.registry import default_baud
    from spikefab.hw.accelerator import HARDWARE_TIMING
    from spikefab.model import Network
    from spikefab.model.conv import ConvLayer
    layers = config.layers
    formats = {c.format for c in layers if c.format != "kernel"} or {"csc"}
    if len(formats) != 1 or len({c.queue_depth for c in layers}) != 1:
        raise ValueError("spikefab synth builds one weight format and queue depth in every "
                         "layer; this configuration mixes them")
    if config.mode != "sparse" or config.timing != HARDWARE_TIMING:
        raise ValueError("spikefab synth builds the event-driven accelerator with the "
                         "hardware's timing; this configuration is the dense baseline model")
    on_core = [c.format == "kernel" for c in layers]
    unrolled = [isinstance(layer, ConvLayer) and not core
                for layer, core in zip(Network.load(network_path), on_core)]
    if any(unrolled) and any(on_core):
        raise ValueError("spikefab synth puts every conv layer on the convolution core, or "
                         "none (--conv unrolled); this configuration mixes them")
    words = ["spikefab", "synth", "--board", str(getattr(board, "name", board)),
             "--network", user_path(network_path),
             "--lanes", *[str(c.lanes) for c in layers],
             "--sweep-lanes", *[str(c.sweep_lanes) for c in layers],
             "--format", formats.pop(), "--queue-depth", str(layers[0].queue_depth),
             "--steps", str(steps)]
    if any(unrolled):
        words += ["--conv", "unrolled"]
    placed = {c.placement for c in layers if c.format != "kernel" and c.placed}
    if placed:
        if placed != {"balanced"} or not all(c.placed for c, core in zip(layers, on_core)
                                              if not core):
            raise ValueError("spikefab synth places every fully connected layer balanced "
                             "(--placement balanced) or none; this configuration mixes them "
                             "or gives an explicit permutation")
        words += ["--placement", "balanced"]
    if exit is not None:
        from spikefab.model.early_exit import exit_rule
        rule = exit_rule(exit)
        words += ["--exit", "exact" if rule.kind == "exact" else f"margin:{rule.margin}"]
    if encoder is not None:
        words += ["--encoder", encoder["kind"], "--scan", str(encoder.get("scan", 1))]
    if clock_mhz is not None:
        words += ["--clock-mhz", f"{clock_mhz:g}"]
    if baud is not None and baud != default_baud(board, clock_mhz):
        words += ["--baud", str(baud)]
    if spikes is not None:
        words += ["--spikes", user_path(spikes)]
    if out is not None:
        words += ["--out", user_path(out)]
    return shlex.join(words) if os.name == "posix" else " ".join(words)


def write_rebuild(folder, board, network, config, *, steps, samples=None, name=None,
                  baud=None):
    """Write a reported design's network (``folder/<name>.npz``, default
    :func:`design_name`) and, given, the spike trains of its latency figure
    (``folder/samples-T<T>.npz``) and return ``{"network", "samples", "command"}``: the paths
    as the user types them and :func:`synth_command`."""
    network_path = save_design(folder, name or design_name(network), network)
    samples_path = None
    if samples is not None:
        samples = np.asarray(samples)
        samples_path = save_samples(folder, f"samples-T{samples.shape[1]}", samples)
    return {"network": user_path(network_path),
            "samples": None if samples_path is None else user_path(samples_path),
            "command": synth_command(board, network_path, config, steps=steps, baud=baud,
                                     spikes=samples_path)}


def rebuild_report(folder, network, designs, *, steps, samples=None, report="report",
                   summary=None, exit=None):
    """:func:`write_rebuild` for a study's designs (one network), added to its report: a "Rebuild"
    paragraph appended to ``folder/<report>.md`` and the list ``rebuild`` in
    ``folder/<report>.json`` (when they exist); returns the paragraph (for the study to
    print). ``designs``: ``(board, config, built)`` triples (``built``: whether the study
    built the design for that board; otherwise the text says it was not built in this run).
    ``summary``: the study's summary dict, which gets ``rebuild`` too. ``exit``: the
    early-exit rule the designs were built with (:func:`synth_command`).
    """
    import json
    items, lines = [], []
    network_path = save_design(folder, design_name(network), network)
    samples_path = None if samples is None else save_samples(
        folder, f"samples-T{np.shape(samples)[1]}", samples)
    for board, config, built in designs:
        rebuild = {"network": user_path(network_path),
                   "samples": None if samples_path is None else user_path(samples_path),
                   "command": synth_command(board, network_path, config, steps=steps,
                                            spikes=samples_path, exit=exit)}
        items.append({"board": getattr(board, "name", board), "built": bool(built),
                      "config": config.to_json(), **rebuild})
        lines.append(f"- {config.describe()} on the {getattr(board, 'name', board)}"
                     f"{'' if built else ' (not built in this run)'}: `{rebuild['command']}`")
    text = ("Rebuild (the same bitstream"
            + (f"; the latency from the {len(samples)} samples of {items[0]['samples']}, each "
               f"alone" if samples is not None and items else "") + "):\n\n"
            + "\n".join(lines) + "\n")
    md, js = Path(folder) / f"{report}.md", Path(folder) / f"{report}.json"
    if md.exists():
        with open(md, "a") as file:
            file.write("\n" + text)
    if summary is not None:
        summary["rebuild"] = items
    if js.exists():
        written = json.loads(js.read_text())
        written["rebuild"] = items
        js.write_text(json.dumps(written, indent=2, default=str))
    return text
