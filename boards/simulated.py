"""A serial port whose other end is the board's host link in the Amaranth simulator.

:class:`SimulatedSerial` has the ``write`` / ``read`` / ``timeout`` interface of a pyserial
port, so the host driver runs unchanged against the simulated hardware: bytes written are
sent bit by bit on the design's ``rx`` line at ``divisor`` cycles per bit, and the ``tx`` line
is sampled and decoded into bytes to read. Simulated time advances only while the driver
waits in ``read``; ``timeout`` is in simulated seconds.
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
        self.cycles = 0
        self.corrupt = None          # optional hook: bytes -> bytes applied to written frames
        self.sim = Simulator(link)
        self.sim.add_clock(self.period)
        self.sim.add_testbench(self._drive_rx, background=True)
        self.sim.add_testbench(self._sample_tx, background=True)
        self._vcd = None
        if vcd:
            self._vcd = self.sim.write_vcd(str(vcd))
            self._vcd.__enter__()
        self._now = 0.0

    async def _drive_rx(self, ctx):
        ctx.set(self.link.rx, 1)
        while True:
            if not self._outgoing:
                await ctx.tick()
                continue
            byte = self._outgoing.popleft()
            for bit in [0] + [(byte >> b) & 1 for b in range(8)] + [1]:
                ctx.set(self.link.rx, bit)
                await ctx.tick().repeat(self.divisor)

    async def _sample_tx(self, ctx):
        half = self.divisor // 2
        while True:
            await ctx.tick()
            if ctx.get(self.link.tx):
                continue
            await ctx.tick().repeat(half)                 # middle of the start bit
            value = 0
            for b in range(8):
                await ctx.tick().repeat(self.divisor)
                value |= ctx.get(self.link.tx) << b
            await ctx.tick().repeat(self.divisor)          # middle of the stop bit
            if ctx.get(self.link.tx):
                self._incoming.append(value)

    def write(self, data):
        data = bytes(data)
        if self.corrupt is not None:
            data = self.corrupt(data)
        self._outgoing.extend(data)
        return len(data)

    def read(self, size=1):
        deadline = self._now + self.timeout
        step = 20 * self.divisor * self.period
        while len(self._incoming) < size and self._now < deadline:
            self._now += step
            self.sim.run_until(self._now)
        out = bytes(self._incoming.popleft() for _ in range(min(size, len(self._incoming))))
        return out

    def idle(self, seconds):
        """Let simulated time pass (for example to let the device notice a truncated frame)."""
        self._now += seconds
        self.sim.run_until(self._now)

    def close(self):
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)
            self._vcd = None
