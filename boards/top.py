"""Board top: the accelerator and its UART host link on a real board (amaranth-boards)."""

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, ResetSignal, Signal
from amaranth.build import ResourceError
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer

from spikefab.model import HardwareConfig, Network
from spikefab.hw.params import check_instance, check_int, validating

from .link import HostLink

__all__ = ["BoardTop", "DEFAULT_BAUD", "pll_domain"]

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
    encoder : None or dict
        An on-chip input encoder behind the host link's ``PIXELS`` command, as for
        :class:`~.link.HostLink` (its ``steps`` at most ``max_steps``).
    clock_mhz : None or number
        ``None`` (default): the design runs from the board oscillator (the platform's default
        ``sync`` domain). A frequency: the design runs from the FPGA's PLL at exactly that
        frequency (:func:`pll_domain`; the parameters of :mod:`~.pll`, a frequency the PLL
        cannot make exactly is refused when the top is elaborated, and by
        :func:`~spikefab.boards.build.board_top` before), and the host link's divisor and
        timeout are computed at it.
    """

    def __init__(self, network, config, *, baud=DEFAULT_BAUD, max_steps=255, capacity=None,
                 runtime_weights=None, exit=None, clock_mhz=None, encoder=None):
        with validating(self):          # a refused top is never elaborated: no warning for it
            check_instance("network", network, Network)
            check_instance("config", config, HardwareConfig)
            config.check(network)
            check_int("baud", baud, 300, 12_000_000)
            if clock_mhz is not None and (isinstance(clock_mhz, bool) or
                                          not isinstance(clock_mhz, (int, float))
                                          or not 0 < clock_mhz <= 400):
                raise ValueError(f"clock_mhz = {clock_mhz!r} is out of range; allowed: None "
                                 f"(the board oscillator) or a frequency in (0, 400] MHz")
        self.clock_mhz = clock_mhz
        self.network, self.config = network, config
        self.baud, self.max_steps, self.capacity = baud, max_steps, capacity
        self.runtime_weights = runtime_weights
        self.exit = exit
        self.encoder = encoder
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
                             encoder=self.encoder,
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
        if self.clock_mhz is None:
            clock_hz = platform.default_clk_frequency
        else:
            clock_hz = self.clock_mhz * 1e6
            pll_domain(m, platform, self.clock_mhz)
        m.submodules.link = link = self.link_for(clock_hz)
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


def pll_domain(m, platform, clock_mhz):
    """Add to ``m`` (the top module: the domain is defined where every submodule sees it)
    the ``sync`` domain at ``clock_mhz`` from ``platform``'s board
    oscillator through the FPGA's PLL (docs/design.md §6): iCE40 ``SB_PLL40_PAD`` on the
    oscillator's pin (the iCEBreaker's 12 MHz input, pin 35, is the UP5K's PLL pad), ECP5
    ``EHXPLLL`` after the oscillator's input buffer, with the parameters of
    :func:`~spikefab.boards.pll.pll_for` (``ValueError`` when ``clock_mhz`` cannot be made
    exactly). ``sync`` is held in reset until the PLL's ``LOCK`` has been high (through a
    two-flip-flop synchronizer) for 15 µs, as Amaranth's iCE40 platform holds its default
    domain after configuration (the iCE40 block RAMs read as zeros for about 3 µs). The PLL
    output gets a clock constraint of ``clock_mhz``, so nextpnr times the design at it."""
    from spikefab.boards.pll import pll_for
    from amaranth.vendor import LatticePlatform, SiliconBluePlatform
    if isinstance(platform, SiliconBluePlatform):
        family = "ice40"
    elif isinstance(platform, LatticePlatform) and platform.family == "ecp5":
        family = "ecp5"
    else:
        raise ValueError(f"clock_mhz needs an iCE40 or ECP5 board; {type(platform).__name__} "
                         f"has no PLL here")
    f_in = platform.default_clk_frequency / 1e6
    params = pll_for(family, f_in, clock_mhz)
    clk, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
    pin = platform.request(platform.default_clk, dir="-")
    if family == "ice40":
        m.submodules.pll = Instance(
            "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=params["DIVR"], p_DIVF=params["DIVF"], p_DIVQ=params["DIVQ"],
            p_FILTER_RANGE=params["FILTER_RANGE"],
            i_PACKAGEPIN=pin.io, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=clk, o_LOCK=lock)
    else:
        m.submodules.pll_clk_buf = buffer = io.Buffer("i", pin)
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{f_in:g}", a_FREQUENCY_PIN_CLKOP=f"{clock_mhz:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=params["CLKI_DIV"], p_CLKOP_ENABLE="ENABLED",
            p_CLKOP_DIV=params["CLKOP_DIV"], p_CLKOP_CPHASE=params["CLKOP_CPHASE"],
            p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=params["CLKFB_DIV"],
            i_RST=0, i_STDBY=0, i_CLKI=buffer.i, o_CLKOP=clk, i_CLKFB=clk,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=lock)
    platform.add_clock_constraint(clk, clock_mhz * 1e6)
    m.domains.por = ClockDomain("por", reset_less=True, local=True)
    m.domains.sync = ClockDomain("sync")
    m.d.comb += [ClockSignal("por").eq(clk), ClockSignal("sync").eq(clk)]
    locked = Signal()
    m.submodules.pll_lock_sync = FFSynchronizer(lock, locked, o_domain="por")
    delay = int(15e-6 * clock_mhz * 1e6)
    timer, ready = Signal(range(delay + 1), name="pll_timer"), Signal(name="pll_ready")
    with m.If(~locked):
        m.d.por += [timer.eq(0), ready.eq(0)]
    with m.Elif(timer == delay):
        m.d.por += ready.eq(1)
    with m.Else():
        m.d.por += timer.eq(timer + 1)
    m.d.comb += ResetSignal("sync").eq(~ready)
