"""Board top: the accelerator and its UART host link on a real board (amaranth-boards)."""

from amaranth import Elaboratable, Module
from amaranth.build import ResourceError
from amaranth.lib import io

from spikefab.model import HardwareConfig, Network
from spikefab.hw.params import check_instance, check_int, validating

from .link import HostLink

__all__ = ["BoardTop", "DEFAULT_BAUD"]

#: The UART rate of a :class:`BoardTop` given none (the rate every USB–UART adapter makes).
#: The board flow (:func:`spikefab.boards.build.board_top`, ``spikefab synth``) builds each
#: board at its own :attr:`~spikefab.boards.registry.Board.default_baud` instead.
DEFAULT_BAUD = 115200


class BoardTop(Elaboratable):
    """:class:`~.link.HostLink` wired to a board's UART pins and default clock.

    The UART is the board's ``uart`` resource (iCEBreaker and ULX3S: the USB serial port of
    the on-board FTDI). The OrangeCrab has none; there the link uses Feather pins 0 (RX) and
    1 (TX) — connect a 3.3 V USB-UART adapter. LED 0 (when the board has one) shows the sticky
    error flag. A request stalled for 50 ms counts as truncated.

    Parameters
    ----------
    network, config :
        As for :class:`~spikefab.hw.accelerator.Accelerator`.
    baud : int
        UART speed; the clock divisor is rounded and must be within 2 % of it (default
        :data:`DEFAULT_BAUD`; the board flow gives the board's
        :attr:`~spikefab.boards.registry.Board.default_baud`).
    max_steps, capacity, runtime_weights :
        As for :class:`~.link.HostLink` (``runtime_weights``: see
        :func:`~.registry.runtime_weight_layers`; such a bitstream computes nothing until the
        host has loaded the weights, as ``spikefab run`` does).
    exit : None, ``"exact"`` or ``("margin", m)``
        Early exit (docs/design.md §2 and §4), as for :class:`~.link.HostLink`; every sample
        then has ``max_steps`` steps (the rule's ``T``).
    """

    def __init__(self, network, config, *, baud=DEFAULT_BAUD, max_steps=255, capacity=None,
                 runtime_weights=None, exit=None):
        with validating(self):          # a refused top is never elaborated: no warning for it
            check_instance("network", network, Network)
            check_instance("config", config, HardwareConfig)
            config.check(network)
            check_int("baud", baud, 300, 12_000_000)
        self.network, self.config = network, config
        self.baud, self.max_steps, self.capacity = baud, max_steps, capacity
        self.runtime_weights = runtime_weights
        self.exit = exit
        self.link = None
        self._clock_hz = None

    def link_for(self, clock_hz):
        """The :class:`~.link.HostLink` for a ``clock_hz`` clock, built once (raises
        ``ValueError`` when the baud rate or the configuration cannot be built); a caller may
        ask for it before the build to check the configuration, and the build reuses it."""
        if self.link is not None and self._clock_hz == clock_hz:
            return self.link
        divisor = round(clock_hz / self.baud)
        if abs(clock_hz / divisor - self.baud) > 0.02 * self.baud:
            raise ValueError(f"baud = {self.baud} cannot be made from a {clock_hz / 1e6:g} MHz "
                             f"clock within 2 % (divisor {divisor})")
        self.link = HostLink(self.network, self.config, divisor=divisor,
                             timeout=int(clock_hz * 0.05), max_steps=self.max_steps,
                             capacity=self.capacity, runtime_weights=self.runtime_weights,
                             **({} if self.exit is None else
                                dict(exit=self.exit, steps=self.max_steps)))
        self._clock_hz = clock_hz
        return self.link

    def runtime_store_bits(self, clock_hz):
        """Sizes in bits of the run-time loaded weight stores (for the board flow)."""
        link = self.link_for(clock_hz)
        return [core.memory.image.memories["weights"].width * core.memory.capacity
                for core in link.accelerator.cores
                if getattr(core, "memory", None) is not None and core.memory.runtime]

    def elaborate(self, platform):
        if platform is None:
            raise TypeError("BoardTop needs a board platform; simulate HostLink instead")
        m = Module()
        m.submodules.link = link = self.link_for(platform.default_clk_frequency)
        try:
            uart = platform.request("uart", 0, dir="-")
        except ResourceError:
            from amaranth_boards.resources import UARTResource
            platform.add_resources([UARTResource(0, rx="0", tx="1", conn=("io", 0))])
            uart = platform.request("uart", 0, dir="-")
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]
        try:                                   # ULX3S: let the FTDI's TX through
            enable = platform.request("uart_tx_enable", 0, dir="-")
            m.submodules.tx_enable = buffer = io.Buffer("o", enable)
            m.d.comb += buffer.o.eq(1)
        except ResourceError:
            pass
        try:
            led = platform.request("led", 0, dir="-")
            m.submodules.error_led = buffer = io.Buffer("o", led)
            m.d.comb += buffer.o.eq(link.error)
        except ResourceError:
            pass
        return m
