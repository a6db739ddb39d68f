"""The one board build: a network's board top through the board flow, as ``spikefab synth``
builds it. Every command and study that names a bitstream (synth, the demos, the Spiker+
comparison, gate-level simulation, the design-space exploration) builds it here, so they all
build the same design for the same network and configuration.

:func:`board_top` applies the board's memory rule (weight stores that
:func:`~spikefab.boards.registry.runtime_weight_layers` puts in SPRAM are loaded at run time
over the host link, not in the bitstream) and checks the host link's limits at the board
clock; :func:`build_board` synthesizes, places and routes it and answers with a record that
says what happened (built, does not fit, cannot be generated, failed) instead of raising, so
a sweep can keep going and report every design.
"""

import json
import time
from pathlib import Path

__all__ = ["board_top", "build_board", "run_clock_mhz", "runtime_layers"]


def run_clock_mhz(board, clock_mhz=None):
    """The clock a bitstream runs at: ``clock_mhz`` (the PLL's) or the board oscillator."""
    from spikefab.boards.registry import get_board
    return get_board(board).clock_mhz if clock_mhz is None else clock_mhz


def runtime_layers(board, network, config):
    """Per layer, whether ``board``'s memory rule puts its weight store in SPRAM (loaded at
    run time); ``board`` is a name or a :class:`~spikefab.boards.registry.Board`."""
    from spikefab.boards.registry import get_board, runtime_weight_layers
    from spikefab.model.cycles import compile_layer
    return runtime_weight_layers(get_board(board),
                                 [compile_layer(layer, c) for layer, c in zip(network, config.layers)])


def board_top(board, network, config, *, baud=None, max_steps=None, runtime_weights=None,
              exit=None, clock_mhz=None, encoder=None):
    """The :class:`~spikefab.boards.top.BoardTop` that ``spikefab synth`` builds for
    ``network`` on ``board``, its host link checked at the board clock.

    ``runtime_weights`` (per layer) overrides the board's memory rule; ``baud`` defaults to
    the board's :attr:`~spikefab.boards.registry.Board.default_baud` (the highest rate its
    USB–UART bridge and clock make exactly) and ``max_steps`` to 255. Raises ``ValueError``/``TypeError``
    naming the parameter when the host link refuses the configuration; the refused top is
    marked as never elaborated, so Amaranth does not warn about it. ``exit`` (``None``,
    ``"exact"`` or ``("margin", m)``) builds the early-exit rule in, for samples of
    ``max_steps`` steps. ``encoder``: an on-chip input encoder behind ``PIXELS``, the
    ``encoder`` of :class:`~spikefab.boards.link.HostLink` (``None``: none).

    ``clock_mhz``: ``None`` (the board oscillator) or the frequency the board's PLL makes for
    the design (docs/design.md §6; refused with ``ValueError`` naming the nearest makeable
    frequencies when the PLL cannot make it exactly); the host link is then checked at it and
    ``baud`` defaults to :func:`~spikefab.boards.registry.default_baud` at that clock.
    """
    from spikefab.boards.registry import default_baud, get_board
    from spikefab.boards.top import BoardTop
    from spikefab.hw.elaboration import never_elaborated
    spec = get_board(board)
    if runtime_weights is None:
        runtime_weights = runtime_layers(spec, network, config)
    if clock_mhz is not None:
        from spikefab.boards.pll import pll_for
        pll_for(spec.family, spec.clock_mhz, clock_mhz)          # refused before the top
    top = BoardTop(network, config, baud=baud or default_baud(spec, clock_mhz),
                   max_steps=max_steps or 255, runtime_weights=list(runtime_weights),
                   exit=exit, clock_mhz=clock_mhz, encoder=encoder)
    try:
        top.link_for(run_clock_mhz(spec, clock_mhz) * 1e6)
    except (ValueError, TypeError):
        never_elaborated(top)
        raise
    return top


def _netlist_flip_flops(path):
    """``SB_DFF*`` cells of the top module of yosys's JSON netlist (how the board flow counts
    iCE40 flip-flops), or ``None`` without a readable netlist."""
    try:
        modules = json.loads(Path(path).read_text()).get("modules", {})
    except (OSError, ValueError):
        return None
    tops = [m for m in modules.values()
            if int(str(m.get("attributes", {}).get("top", "0")), 2)] or list(modules.values())
    if not tops:
        return None
    return sum(cell["type"].startswith("SB_DFF") for cell in tops[0].get("cells", {}).values())


def build_board(board, network, config, build_dir, *, max_steps, baud=None,
                runtime_weights=None, synthesize=None, exit=None, clock_mhz=None):
    """``network``'s board top (:func:`board_top`) through the board flow into
    ``build_dir``; a dict with ``status``:

    * ``"built"``: ``used`` / ``available`` per resource, ``fmax_mhz``, ``timing_met``,
      ``bitstream``, ``seconds`` and the tool versions (the full
      :class:`~spikefab.boards.report.SynthReport` is written to ``build_dir``);
    * ``"does not fit"``: ``overflows`` (resource: used, available) and, from nextpnr's log,
      every resource's ``used`` / ``available`` as far as it got;
    * ``"cannot be generated"`` (the host link refuses the configuration) or ``"failed"``
      (a tool failed), with the one-line ``error``.

    Every record has ``board``, ``title``, ``device``, ``clock_mhz``, ``config`` (the exact
    hardware configuration, :meth:`~spikefab.model.HardwareConfig.to_json`),
    ``configuration`` (its one-line description) and ``weights_in_spram`` (per layer).
    ``synthesize`` replaces :func:`spikefab.boards.synth.synthesize` (tests). ``exit``: the
    early-exit rule, as for :func:`board_top` (the record then has ``exit``, its ``--exit``
    value). ``clock_mhz``: the PLL clock, as for :func:`board_top` (the record's
    ``clock_mhz`` is then that clock, ``pll`` is true and ``timing_met`` is judged at it;
    without it the record has no ``pll`` key, as before).
    """
    from spikefab.boards.registry import CELL_TYPES, get_board
    from spikefab.boards.report import ResourceOverflow, SynthesisError, parse_nextpnr_log
    from spikefab.toolchain import ToolNotFound
    if synthesize is None:
        from spikefab.boards.synth import synthesize

    board = get_board(board)
    runtime = (runtime_layers(board, network, config) if runtime_weights is None
               else [bool(r) for r in runtime_weights])
    record = {"board": board.name, "title": board.title, "device": board.device,
              "clock_mhz": run_clock_mhz(board, clock_mhz), "config": config.to_json(),
              "configuration": config.describe(), "weights_in_spram": runtime}
    if clock_mhz is not None:
        record.update(pll=True, oscillator_mhz=board.clock_mhz)
    if exit is not None:
        from spikefab.model.early_exit import exit_rule
        rule = exit_rule(exit)
        record["exit"] = "exact" if rule.kind == "exact" else f"margin:{rule.margin}"
    try:
        top = board_top(board, network, config, baud=baud, max_steps=max_steps,
                        runtime_weights=runtime, exit=exit, clock_mhz=clock_mhz)
    except (ValueError, TypeError) as error:
        return {**record, "status": "cannot be generated", "error": str(error)}
    began = time.perf_counter()
    try:
        report = synthesize(board, top, build_dir=build_dir)     # at top.clock_mhz
    except ResourceOverflow as error:
        used, available = {}, {}
        if error.log and Path(error.log).exists():
            cells, _ = parse_nextpnr_log(Path(error.log).read_text(errors="replace"))
            for resource, cell in CELL_TYPES[board.family].items():
                if cell in cells:
                    used[resource] = cells[cell]["used"]
                    available[resource] = cells[cell]["available"]
        for resource, (u, a) in error.overflows.items():
            used[resource], available[resource] = u, a
        if board.family == "ice40" and "FF" not in used:
            flip_flops = _netlist_flip_flops(Path(build_dir) / "top.json")
            if flip_flops is not None:
                used["FF"], available["FF"] = flip_flops, board.resources["FF"]
        return {**record, "status": "does not fit", "error": str(error),
                "overflows": {r: {"used": u, "available": a}
                              for r, (u, a) in error.overflows.items()},
                "used": used, "available": available,
                "seconds": round(time.perf_counter() - began, 1)}
    except (SynthesisError, ToolNotFound) as error:
        return {**record, "status": "failed", "error": str(error),
                "seconds": round(time.perf_counter() - began, 1)}
    report.write(build_dir)
    return {**record, "status": "built", "used": dict(report.used),
            "available": dict(report.available), "fmax_mhz": report.fmax_mhz,
            "timing_met": report.timing_met, "clock_net": report.clock,
            "seconds": None if report.seconds is None else round(report.seconds, 1),
            "yosys": report.yosys_version, "workaround": report.workaround,
            "bitstream": str(report.bitstream)}
