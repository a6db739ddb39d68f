"""The event queue's proof: :class:`EventQueueProperties` wraps an
:class:`~spikefab.hw.event_queue.EventQueue` with Amaranth ``Assert``/``Assume``/``Cover``
statements.

What is proved, for every input sequence (``i.valid``, ``i.payload``, ``o.ready`` and
``clear_stats`` are free in every cycle):

* **Stream rules on** ``o``: once ``o.valid`` is high while ``o.ready`` is low, next cycle
  ``o.valid`` is still high and ``o.payload`` is unchanged.
* **No event dropped, duplicated or reordered** (tracked token): the pushes and pops are
  numbered by modular counters; an ``AnyConst`` index ``k`` picks the tracked event. Its
  payload is recorded when push number ``k`` happens, and when pop number ``k`` happens
  ``o.payload`` must equal it. ``pushed - popped == level`` at all times. Since ``k`` and the
  payload are arbitrary, every event leaves as the same event, in the same position.
* **Level and back-pressure as the docstring says**: ``level <= depth``,
  ``i.ready == (level < depth)``, ``o.valid == (level != 0)``, ``high_water <= depth``.

Assumed: reset in the first cycle (and only then), and the producer obeys the stream rules on
``i`` (``i.valid`` is not withdrawn and ``i.payload`` is stable until taken).

Covered (``mode cover``): the queue fills, fills and drains again, and the tracked event
leaves the queue (so the token check is not vacuous).

With the invariants below the properties are 1-inductive: ``mode prove`` closes for any
``k >= 1`` (unbounded proof), in about a second for depth 4 and for depth 64 alike.

k-induction also needs invariants on the queue's inside: the pointers agree with the level
(``produce == consume + level`` modulo ``depth``), the head register shows the memory row at
``consume``, and the tracked event's row still holds its payload. The wrapper reaches those
through :func:`event_queue_internals`, which elaborates the queue itself, adds two
asynchronous *observer* read ports to its ``storage`` memory, and finds the ``produce`` and
``consume`` registers by name; the queue's own logic is unchanged.
"""

from pathlib import Path

from amaranth import Elaboratable, Module, Mux, ResetSignal, Signal
from amaranth.asserts import AnyConst, AnySeq, Initial
from amaranth.hdl import Assert, Assume, Cover, Fragment

from spikefab.hw.elaboration import mark_elaborated
from spikefab.hw.event_queue import EventQueue
from spikefab.sim.formal.sby import run_sby, signals_by_name

__all__ = ["EventQueueProperties", "event_queue_internals", "prove_event_queue"]


def event_queue_internals(queue, platform=None):
    """Elaborate ``queue`` and return ``(fragment, internals)``.

    ``internals`` holds the ``produce`` and ``consume`` registers and two asynchronous read
    ports (``peek_head``, ``peek_token``) added to the queue's ``storage`` memory for the
    properties. Use ``fragment`` as the submodule in place of ``queue``.
    """
    # Elaborated here instead of by Fragment.get (the observer ports must be added before the
    # memory is elaborated), so mark the queue used as Fragment.get would.
    mark_elaborated(queue)
    module = queue.elaborate(platform)
    try:
        storage = module.submodules.storage
    except AttributeError:
        raise RuntimeError("EventQueue no longer has a 'storage' memory; update "
                           "spikefab.sim.formal") from None
    peek_head = storage.read_port(domain="comb")
    peek_token = storage.read_port(domain="comb")
    fragment = Fragment.get(module, platform)
    registers = signals_by_name(fragment, "EventQueue", ["produce", "consume"])
    return fragment, {"produce": registers["produce"], "consume": registers["consume"],
                      "peek_head": peek_head, "peek_token": peek_token}


class EventQueueProperties(Elaboratable):
    """Formal wrapper of an :class:`EventQueue` (properties in the module docstring).

    Parameters
    ----------
    addr_bits : int
        Address width of the queue's events (the payload is ``addr_bits + 2`` bits).
    depth : int
        Entries of the queue.
    queue_class : type
        The queue to check, ``EventQueue`` or a subclass (the tests use mutants).
    inductive : bool
        Also assert the invariants on the queue's inside that make the properties
        1-inductive. Needed by ``mode prove``; a ``mode bmc`` run without them reports only
        the end-to-end properties above.
    """

    def __init__(self, addr_bits=2, depth=4, queue_class=EventQueue, *, inductive=True):
        self.queue = queue_class(addr_bits, depth)
        self.depth = depth
        self.inductive = inductive
        # Push/pop numbers modulo 2**count_bits > depth: at most one event with a given
        # number is inside the queue at any time.
        self.count_bits = depth.bit_length() + 1
        self.properties = {}   # "file:line" of each assertion -> its message (after elaboration)

    def elaborate(self, platform):
        m = Module()
        queue, depth = self.queue, self.depth
        self.properties = {}

        def check(test, message):
            prop = Assert(test, message, src_loc_at=1)
            self.properties[f"{prop.src_loc[0]}:{prop.src_loc[1]}"] = message
            return prop
        fragment, inside = event_queue_internals(queue, platform)
        m.submodules.queue = fragment
        produce, consume = inside["produce"], inside["consume"]
        peek_head, peek_token = inside["peek_head"], inside["peek_token"]
        width = len(queue.i.payload.as_value())

        def wrap(pointer):
            """``pointer`` (< 2 * depth) modulo depth."""
            return Mux(pointer >= depth, pointer - depth, pointer)

        # --- environment: reset in the first cycle only; free inputs; producer stream rules
        m.d.comb += Assume(ResetSignal() == Initial())
        m.d.comb += [
            queue.i.valid.eq(AnySeq(1)),
            queue.i.payload.eq(AnySeq(width)),
            queue.o.ready.eq(AnySeq(1)),
            queue.clear_stats.eq(AnySeq(1)),
        ]
        push = queue.i.valid & queue.i.ready
        pop = queue.o.valid & queue.o.ready
        in_waiting = Signal()
        in_payload = Signal(width)
        m.d.sync += [in_waiting.eq(queue.i.valid & ~queue.i.ready),
                     in_payload.eq(queue.i.payload)]
        with m.If(in_waiting):
            m.d.comb += [Assume(queue.i.valid),
                         Assume(queue.i.payload.as_value() == in_payload)]

        # --- (1) stream rules on the pop side
        out_waiting = Signal()
        out_payload = Signal(width)
        m.d.sync += [out_waiting.eq(queue.o.valid & ~queue.o.ready),
                     out_payload.eq(queue.o.payload)]
        with m.If(out_waiting):
            m.d.comb += [check(queue.o.valid, "o.valid withdrawn before o.ready"),
                         check(queue.o.payload.as_value() == out_payload,
                                "o.payload changed before o.ready")]

        # --- (3) level, room and back-pressure
        m.d.comb += [
            check(queue.level <= depth, "level exceeds depth"),
            check(queue.i.ready == (queue.level < depth), "i.ready is not level < depth"),
            check(queue.o.valid == (queue.level != 0), "o.valid is not level != 0"),
            check(queue.high_water <= depth, "high_water exceeds depth"),
        ]

        # --- (2) counter model and tracked token
        pushed = Signal(self.count_bits)
        popped = Signal(self.count_bits)
        with m.If(push):
            m.d.sync += pushed.eq(pushed + 1)
        with m.If(pop):
            m.d.sync += popped.eq(popped + 1)
        m.d.comb += check((pushed - popped)[:self.count_bits] == queue.level,
                           "pushed - popped is not level")

        token_index = AnyConst(self.count_bits)
        token_in = Signal()                 # the event numbered token_index is in the queue
        token_payload = Signal(width)
        token_slot = Signal(range(depth))
        token_out = Signal()                # it left in this cycle (for the cover)
        ahead = Signal(self.count_bits)     # events in front of it
        m.d.comb += [ahead.eq(token_index - popped), token_out.eq(0)]
        with m.If(push & (pushed == token_index)):
            m.d.sync += [token_in.eq(1), token_payload.eq(queue.i.payload),
                         token_slot.eq(produce)]
        with m.If(pop & (popped == token_index)):
            m.d.comb += [check(token_in, "pop number k without push number k"),
                         check(queue.o.payload.as_value() == token_payload,
                                "event k left with another payload"),
                         token_out.eq(1)]
            m.d.sync += token_in.eq(0)

        # --- inductive strengthening: the model and the queue's inside agree (k-induction
        # needs these; a bounded run does not, so mutants are checked without them)
        m.d.comb += [peek_head.addr.eq(consume), peek_token.addr.eq(token_slot)]
        if self.inductive:
            m.d.comb += [
                check(token_in == (ahead < queue.level),
                      "tracked flag disagrees with the counters"),
                check(consume < depth, "consume out of range"),
                check(produce == wrap(consume + queue.level), "produce != consume + level"),
            ]
            with m.If(queue.o.valid):
                m.d.comb += check(queue.o.payload.as_value() == peek_head.data.as_value(),
                                  "head register is not storage[consume]")
            with m.If(token_in):
                m.d.comb += [check(token_slot == wrap(consume + ahead),
                                   "tracked slot is not consume + ahead"),
                             check(peek_token.data.as_value() == token_payload,
                                   "tracked row overwritten")]

        # --- (4) covers
        was_full = Signal()
        with m.If(queue.level == depth):
            m.d.sync += was_full.eq(1)
        m.d.comb += [
            Cover(queue.level == depth, "full"),
            Cover(was_full & (queue.level == 0), "full, then drained"),
            Cover(token_out & (token_payload != 0), "tracked event left the queue"),
        ]
        return m


def prove_event_queue(workdir, *, addr_bits=2, depth=4, induction=4, queue_class=EventQueue):
    """k-induction proof and cover run of the event queue; returns ``(prove, cover)``."""
    workdir = Path(workdir)
    prove = run_sby(EventQueueProperties(addr_bits, depth, queue_class), workdir / "prove",
                    mode="prove", depth=induction)
    cover = run_sby(EventQueueProperties(addr_bits, depth, queue_class), workdir / "cover",
                    mode="cover", depth=4 * depth)
    return prove, cover


#: Every proof ``make formal`` runs: ``(block, property, parameters, run)``; ``run(workdir)``
#: returns ``(prove, cover)``. Parameters are kept small so each proof takes about a second.
