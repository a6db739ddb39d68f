"""A serial port whose other end is the board's host link in the Amaranth simulator.

:class:`SimulatedSerial` has the ``write`` / ``read`` / ``timeout`` interface of a pyserial
port, so the host driver runs unchanged against the simulated hardware: bytes written are
sent bit by bit on the design's ``rx`` line at ``divisor`` cycles per bit, and the ``tx`` line
is sampled and decoded into bytes to read. Simulated time advances only while the driver
waits in ``read`` (or in :meth:`~SimulatedSerial.idle`); ``timeout`` is in simulated seconds
and counts from the moment the bytes written so far have gone out on the line (so it can be
much shorter than the longest frame, which keeps waits for replies that never come cheap).
"""

import collections

from amaranth.sim import Simulator

__all__ = ["SimulatedSerial"]


class SimulatedSerial:
    """Parameters
    ----------
    link : HostLink (or any design with ``rx``/``tx`` lines and the given ``divisor``)
    clock_hz : float
        Simulated clock frequency (sets what ``timeout`` seconds mean).
    timeout : float
        Simulated seconds ``read`` waits for data.
    vcd : path, optional
        Write a waveform of the whole session (call :meth:`close` to finish it).
    """

    def __init__(self, link, *, clock_hz=1e6, timeout=0.05, vcd=None):
        self.link = link
        self.divisor = link.divisor
        self.period = 1 / clock_hz
        self.timeout = timeout
        self._outgoing = collections.deque()
        self._incoming = collections.deque()
        self.corrupt = None          # optional hook: bytes -> bytes applied to written frames
        self.sim = Simulator(link)
        self.sim.add_clock(self.period)
        self.sim.add_testbench(self._drive_rx, background=True)
        self.sim.add_testbench(self._sample_tx, background=True)
        self._vcd = None
        if vcd:
            self._vcd = self.sim.write_vcd(str(vcd))
            self._vcd.__enter__()
        self._cycle = 0              # simulated time, in whole clock cycles
        self._sent_until = 0         # the cycle when the last byte written will have gone out

    async def _drive_rx(self, ctx):
        # Wakes once per bit time (not per cycle): the simulation is the slow part of a test.
        bit_time = self.divisor * self.period
        ctx.set(self.link.rx, 1)
        while True:
            if not self._outgoing:
                await ctx.delay(bit_time)
                continue
            byte = self._outgoing.popleft()
            for bit in [0] + [(byte >> b) & 1 for b in range(8)] + [1]:
                ctx.set(self.link.rx, bit)
                await ctx.delay(bit_time)

    async def _sample_tx(self, ctx):
        bit_time = self.divisor * self.period
        while True:
            await ctx.negedge(self.link.tx)                 # a start bit begins
            await ctx.delay(bit_time / 2)                   # its middle
            if ctx.get(self.link.tx):
                continue                                    # a glitch
            value = 0
            for b in range(8):
                await ctx.delay(bit_time)
                value |= ctx.get(self.link.tx) << b
            await ctx.delay(bit_time)                       # middle of the stop bit
            if ctx.get(self.link.tx):
                self._incoming.append(value)

    def write(self, data):
        data = bytes(data)
        if self.corrupt is not None:
            data = self.corrupt(data)
        self._outgoing.extend(data)
        self._sent_until = max(self._sent_until, self._cycle) + len(data) * 10 * self.divisor
        return len(data)

    @property
    def cycles(self):
        """Clock cycles simulated so far."""
        return self._cycle

    def _run_to(self, cycle):
        self._cycle = cycle
        self.sim.run_until(cycle * self.period)

    def reset_input_buffer(self):
        """Drop the bytes received and not read yet (as pyserial's method of that name)."""
        self._incoming.clear()

    def read(self, size=1):
        deadline = max(self._cycle, self._sent_until) + round(self.timeout / self.period)
        while len(self._incoming) < size and self._cycle < deadline:
            # Run until the missing bytes could have arrived, and no further: every simulated
            # cycle costs the same, whether the line is busy or not.
            missing = size - len(self._incoming)
            self._run_to(min(deadline, self._cycle + missing * 10 * self.divisor))
        out = bytes(self._incoming.popleft() for _ in range(min(size, len(self._incoming))))
        return out

    def idle(self, seconds):
        """Let simulated time pass (for example to let the device notice a truncated frame)."""
        self._run_to(self._cycle + round(seconds / self.period))

    def close(self):
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)
            self._vcd = None
