"""Sixteen broken copies of the host link (:mod:`spikefab.boards.link`) that the fuzzer must catch:
the check of the checker. Each mutant is a text change to the link's source, applied to a
copy of the module; :func:`run_mutant` fuzzes it in Verilator with the real fuzzer
(:func:`spikefab.sim.link_fuzz.run_fuzz`). ``tests/sim/test_link_mutants*.py`` and the second
step of ``make fuzz`` run them."""

from spikefab.sim.link_fuzz import run_fuzz

__all__ = ["DIRECT_MUTANTS", "ENCODER_MUTANTS", "MUTANTS", "SESSION_MUTANTS", "mutant_link_class", "run_mutant"]

_PAYLOAD_TIMEOUT = """                    with m.If(left == 1):
                        m.next = "CHECKSUM"
                with m.Elif(timed_out):
                    reply(m, Status.TIMEOUT)"""
_BUSY = """                with m.Elif(load_busy):
                    reply(m, Status.BUSY)"""
_LOAD_DONE = """                with m.If(left == 1):
                    reply(m, Status.OK)

            # EVENTS"""
_BAD_THEN_BUSY = """                with m.If(load_bad):
                    reply(m, Status.BAD_ARGUMENT)
""" + _BUSY
#: name: ((old text, new text), ...) applied to the source of :mod:`spikefab.boards.link`.
MUTANTS = {
    "event_addr_off_by_one": (("(event_addr < network.n_inputs)",
                               "(event_addr <= network.n_inputs)"),),
    "load_ignores_busy": (("load_busy.eq(~idle)", "load_busy.eq(0)"),),
    "busy_load_still_writes": (            # answers BUSY, but writes the words all the same
        (_BUSY, _BUSY.replace("reply(m, Status.BUSY)",
                              "m.d.sync += rd_addr.eq(8)\n" + " " * 20
                              + "m.next = 'LOAD_WORDS'")),
        (_LOAD_DONE, _LOAD_DONE.replace("reply(m, Status.OK)",
                                        "reply(m, Mux(load_busy, Status.BUSY, Status.OK))"))),
    "busy_before_bad": ((_BAD_THEN_BUSY, _BAD_THEN_BUSY.replace("load_bad", "LOAD_BAD")
                         .replace("load_busy", "load_bad").replace("LOAD_BAD", "load_busy")
                         .replace("BAD_ARGUMENT", "TEMPORARY").replace("Status.BUSY",
                                                                       "Status.BAD_ARGUMENT")
                         .replace("TEMPORARY", "BUSY")),),
    "reset_keeps_unread": (("sample_open.eq(0), unread.eq(0)]", "sample_open.eq(0)]"),),
    "bad_length_no_discard": (('m.next = "DISCARD"', 'm.next = "IDLE"'),),
    "stalled_taken_plus_one": (("taken_bytes = _le_bytes(pushed, 2)",
                                "taken_bytes = _le_bytes(pushed + 1, 2)"),),
    "load_crc_unchecked": (("with m.If(byte != crc_rx.crc):",
                            "with m.If((byte != crc_rx.crc) & (command != Command.LOAD)):"),),
    "payload_never_times_out": ((_PAYLOAD_TIMEOUT,
                                 _PAYLOAD_TIMEOUT.replace("timed_out", "0")),),
    "step_closes_sample": (("sample_open.eq(kind != EventKind.SAMPLE.value)",
                            "sample_open.eq(kind == EventKind.SPIKE.value)"),),
    "spike_addr_off_by_one": (("(spike_addr < network.n_inputs)",
                               "(spike_addr <= network.n_inputs)"),),
    # A SKIP code that moves the cursor 251 inputs on, not 252 (issue 23: the fuzz network
    # has 600 inputs, so valid SPIKES frames carry SKIP codes).
    "skip_adds_251": (("spike_addr = cursor + Mux(skip, SPIKES_SKIP, data)",
                       "spike_addr = cursor + Mux(skip, SPIKES_SKIP - 1, data)"),),
    # PIXELS (protocol version 5; fuzzed with the on-chip encoder, ENCODER_MUTANTS): a pixel
    # above x_max taken, a start before the last pixel taken, the encoder's sample not
    # counted as unread (a result flag may then answer EMPTY, RESET under-reports).
    "pixel_range_unchecked": (("with m.Elif(data > x_max):", "with m.Elif(data > 0xFE):"),),
    "pixels_start_early": (("(starting & ((total != network.n_inputs) | sample_open))",
                            "(starting & ((total > network.n_inputs) | sample_open))"),),
    "encoder_sample_not_unread": (("""                        m.d.sync += written.eq(0)
                        with m.If(unread != 0xFFFF):
                            m.d.sync += unread.eq(unread + 1)""",
                                   """                        m.d.sync += written.eq(0)"""),),
    # A direct network (docs/design.md §13; fuzzed with --encoder direct, DIRECT_MUTANTS):
    # SPIKES frames, which carry no values, taken instead of refused with BAD_COMMAND.
    "direct_takes_spikes": (("""                    with m.Case(*(() if network[0].direct else (Command.SPIKES,
                                                                Command.INFER))):""",
                             """                    with m.Case(Command.SPIKES, *(() if network[0].direct
                                                  else (Command.INFER,))):"""),),
}
#: The mutants fuzzed with the on-chip encoder built in (``spikefab fuzz --encoder rate``).
ENCODER_MUTANTS = {"pixel_range_unchecked", "pixels_start_early", "encoder_sample_not_unread"}
#: The mutants fuzzed with a direct network (``spikefab fuzz --encoder direct``).
DIRECT_MUTANTS = {"direct_takes_spikes"}
#: The mutants of the link's session state (busy, unread, open sample, STALLED's count); the
#: others break how a frame is checked. Two test files, one each, so ``make test``'s two
#: workers (``--dist loadfile``) share the sixteen Verilator builds.
SESSION_MUTANTS = {"load_ignores_busy", "busy_load_still_writes", "busy_before_bad",
                   "reset_keeps_unread", "stalled_taken_plus_one", "step_closes_sample",
                   "encoder_sample_not_unread"}


def mutant_link_class(name):
    """The ``HostLink`` class of :mod:`spikefab.boards.link` with mutation ``name`` of
    :data:`MUTANTS` applied to its source."""
    import inspect
    import types

    import spikefab.boards.link as original

    text = inspect.getsource(original)
    for old, new in MUTANTS[name]:
        if text.count(old) != 1:
            raise ValueError(f"mutant {name}: its text is not in boards/link.py once")
        text = text.replace(old, new)
    module = types.ModuleType(f"spikefab.boards._link_mutant_{name}")
    module.__package__ = "spikefab.boards"
    exec(compile(text, f"<link.py, mutant {name}>", "exec"), module.__dict__)
    return module.HostLink


def run_mutant(name, frames, seed, *, cache_dir=None):
    """Fuzz mutant ``name`` (a Verilator build of its own) for up to ``frames`` frames; the
    :class:`~spikefab.sim.link_fuzz.FuzzReport` (caught when its ``failure`` is set)."""
    return run_fuzz(frames, seed, link_class=mutant_link_class(name), name=f"mutant_{name}",
                    cache_dir=cache_dir,
                    encoder="rate" if name in ENCODER_MUTANTS
                    else "direct" if name in DIRECT_MUTANTS else None)
