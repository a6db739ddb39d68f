"""Spike-event queue: a block-RAM FIFO of address events with exact, documented timing."""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .events import EventLayout
from .params import check_int, validating

__all__ = ["EventQueue"]

DEPTH_RANGE = (2, 1 << 16)


class EventQueue(wiring.Component):
    """First-in first-out queue of address events in front of a layer core.

    Only spikes and markers occupy entries — that is the dynamic-sparsity saving. The queue
    never drops, duplicates or reorders an event: when full it applies back-pressure.

    Storage is a :class:`~amaranth.lib.memory.Memory` of ``depth`` events with one
    synchronous read port (block RAM), read ahead so the head is always on the port's output.
    (``SyncFIFOBuffered`` is not used: its write-ready depends on where an entry sits inside
    it, which would make the cycle model depend on history; here room is simply
    ``level < depth``.)

    Parameters
    ----------
    addr_bits : int
        Address width of the events, ``[1, 24]``.
    value_bits : int
        Value width of the events (:class:`EventLayout`; a direct layer's input), ``[0, 16]``.
    depth : int
        Entries, ``[2, 65536]``.

    Members
    -------
    i : ``In(stream.Signature(EventLayout(addr_bits)))``
        Push side. ``i.ready`` is ``level < depth`` (a register: a pop frees an entry for the
        next cycle, not the same one).
    o : ``Out(stream.Signature(EventLayout(addr_bits)))``
        Pop side. ``o.valid`` is ``level != 0``.
    level : ``Out(range(depth + 1))``
        Entries held, pushed minus popped before this cycle.
    high_water : ``Out(range(depth + 1))``
        Largest ``level`` seen since reset or since ``clear_stats``.
    clear_stats : ``In(1)``
        Resets ``high_water`` to the current level.

    Timing: an event pushed in cycle ``c`` can be popped from cycle ``c + 1``; one push and
    one pop per cycle at full rate. This is ``Timing.queue_latency = 1`` of the cycle model.
    """

    def __init__(self, addr_bits, depth, value_bits=0):
        with validating(self):
            self.depth = check_int("depth", depth, *DEPTH_RANGE)
            self.layout = EventLayout(addr_bits, value_bits)
        super().__init__({
            "i": In(stream.Signature(self.layout)),
            "o": Out(stream.Signature(self.layout)),
            "level": Out(range(depth + 1)),
            "high_water": Out(range(depth + 1)),
            "clear_stats": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = storage = Memory(shape=self.layout, depth=self.depth, init=[])
        write = storage.write_port()
        read = storage.read_port(transparent_for=(write,))

        produce = Signal(range(self.depth))
        consume = Signal(range(self.depth))
        do_push = self.i.valid & self.i.ready
        do_pop = self.o.valid & self.o.ready

        def successor(pointer):
            return Mux(pointer == self.depth - 1, 0, pointer + 1)

        m.d.comb += [
            self.i.ready.eq(self.level != self.depth),
            self.o.valid.eq(self.level != 0),
            write.addr.eq(produce),
            write.data.eq(self.i.payload),
            write.en.eq(do_push),
            # Read ahead: the port always shows the entry that is the head next cycle.
            read.addr.eq(Mux(do_pop, successor(consume), consume)),
            self.o.payload.eq(read.data),
        ]
        with m.If(do_push):
            m.d.sync += produce.eq(successor(produce))
        with m.If(do_pop):
            m.d.sync += consume.eq(successor(consume))
        with m.If(do_push & ~do_pop):
            m.d.sync += self.level.eq(self.level + 1)
        with m.Elif(do_pop & ~do_push):
            m.d.sync += self.level.eq(self.level - 1)

        with m.If(self.clear_stats):
            m.d.sync += self.high_water.eq(self.level)
        with m.Elif(self.level > self.high_water):
            m.d.sync += self.high_water.eq(self.level)
        return m
