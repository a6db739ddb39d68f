"""The reference boards of the flow (docs/design.md §6) and their devices' capacities.

A :class:`Board` names its ``amaranth-boards`` platform, FPGA family and device, the board
clock and the device's capacity per generic resource. Generic names map to the family's cell
types as nextpnr reports them:

======== ==================================== =========================
resource iCE40 (UP5K)                         ECP5
======== ==================================== =========================
LUT      ``ICESTORM_LC`` logic cells          ``TRELLIS_COMB`` LUT4s
FF       ``SB_DFF*`` cells of the netlist     ``TRELLIS_FF``
BRAM     ``ICESTORM_RAM`` (4 kbit EBR)        ``DP16KD`` (18 kbit EBR)
DSP      ``ICESTORM_DSP`` (``SB_MAC16``)      ``MULT18X18D``
SPRAM    ``ICESTORM_SPRAM`` (256 kbit)        —
======== ==================================== =========================

The host link's UART (docs/design.md §9) runs at each board's :attr:`Board.default_baud`:
the highest rate the board's USB–UART bridge makes that the board clock also makes exactly
with the UART's integer clock divisor (``clock / baud``, at least 4, the receiver's minimum),
so both ends of the line run at the same rate and the Verilator link harness, which runs
both ends at the board's divisor, simulates what the board does:

============ ============================== ========== ======== ============ =========
board        USB–UART bridge                bridge max clock    default baud divisor
============ ============================== ========== ======== ============ =========
iCEBreaker   FT2232H (channel B)            12 Mbaud   12 MHz   3,000,000    4
ULX3S        FT231XS                        3 Mbaud    25 MHz   1,000,000    25
OrangeCrab   none: an adapter on Feather    —          48 MHz   115,200      417
             pins 0/1 (any adapter)
============ ============================== ========== ======== ============ =========

On the ULX3S, 3 Mbaud (divisor 8: 3.125 Mbaud) and 2 Mbaud (12: 2.083 Mbaud) are 4.2 % off;
the FT231X makes no rate between 2 and 3 Mbaud and 1.5 Mbaud as its next below 2 Mbaud,
which divisor 17 makes as 1.4706 Mbaud, 1.96 % off: inside the 2 % rule of
:class:`~spikefab.boards.top.BoardTop` by 0.04 points, not exact, and not what the harness
simulates, so the default is 1 Mbaud (exact; ``--baud 1500000`` builds the faster link). The
OrangeCrab has no bridge of its own: the default is the rate every adapter makes, within
the 2 % rule (48 MHz / 417 = 115,108 baud, 0.08 % off; ``--baud 3000000`` for an FT232R
adapter: 48 MHz / 16, exact).

A bitstream built for a PLL clock (``spikefab synth --clock-mhz``, docs/design.md §6) gets
the same rule at that clock, :func:`default_baud`: the FTDI bridges make ``B / d`` for a
base rate ``B`` (FT231X 3 Mbaud, FT2232H 12 Mbaud) and ``d`` 1, 1.5, or 2 and above in
steps of 1/8 (their data sheets' fractional divisors), so the default is the largest such
rate ``clock / n`` with an integer ``n`` of at least 4. At the oscillators this gives the
table's rates; at the PLL clocks of issue 23:

============ ========= ============ =========
board        PLL clock default baud divisor
============ ========= ============ =========
iCEBreaker   24 MHz    6,000,000    4
ULX3S        75 MHz    3,000,000    25
============ ========= ============ =========

The OrangeCrab (no bridge) keeps 115,200 at any clock.
"""

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BOARDS", "BRAM_BITS", "BRIDGE_BASE_BAUD", "CELL_TYPES", "MEANING", "RESOURCES",
           "Board", "bridge_makes", "default_baud", "get_board", "runtime_weight_layers",
           "spram_blocks"]

RESOURCES = ("LUT", "FF", "BRAM", "DSP", "SPRAM")

#: Generic resource name -> nextpnr bel/cell type, per family. iCE40 flip-flops are counted
#: in the netlist (see the module docstring), so FF has no nextpnr type there.
CELL_TYPES = {
    "ice40": {"LUT": "ICESTORM_LC", "BRAM": "ICESTORM_RAM", "DSP": "ICESTORM_DSP",
              "SPRAM": "ICESTORM_SPRAM"},
    "ecp5": {"LUT": "TRELLIS_COMB", "FF": "TRELLIS_FF", "BRAM": "DP16KD", "DSP": "MULT18X18D"},
}

#: What a generic resource means on each family (for the Markdown table).
MEANING = {
    "ice40": {"LUT": "logic cells: LUT4 + FF + carry", "FF": "flip-flops",
              "BRAM": "4 kbit block RAMs", "DSP": "SB_MAC16 DSPs", "SPRAM": "256 kbit SPRAMs"},
    "ecp5": {"LUT": "LUT4s", "FF": "flip-flops", "BRAM": "18 kbit block RAMs",
             "DSP": "18x18 multipliers"},
}




@dataclass(frozen=True)
class Board:
    """A reference board of the flow.

    Members
    -------
    name : str
        Registry key (``"icebreaker"``, ``"ulx3s"``, ``"orangecrab"``).
    title : str
        Human-readable board name.
    platform : type
        The ``amaranth-boards`` platform class.
    family : str
        ``"ice40"`` or ``"ecp5"``.
    device : str
        The FPGA, as the platform names it (``"iCE40UP5K"``, ``"LFE5U-85F"``).
    clock_mhz : float
        The board oscillator (the platform's default clock), in MHz.
    resources : Mapping[str, int]
        The device's capacity per generic resource, from the vendor data sheets (iCE40 UltraPlus
        family data sheet; ECP5/ECP5-5G family data sheet). nextpnr reports the same numbers
        for the bels it can use; the report shows nextpnr's.
    synth_opts : str
        Options the flow always gives the family's yosys ``synth_*`` command.
    bridge : str or None
        The board's USB–UART bridge (``None``: none on the board).
    bridge_max_baud : int or None
        The highest rate the bridge's data sheet gives (``None`` without a bridge).
    default_baud : int
        The host link's UART rate ``spikefab synth`` builds and ``spikefab run`` opens the
        port at (the module docstring says how it was chosen).
    """

    name: str
    title: str
    platform: type
    family: str
    device: str
    clock_mhz: float
    resources: Mapping[str, int]
    synth_opts: str = ""
    bridge: str | None = None
    bridge_max_baud: int | None = None
    default_baud: int = 115_200

    @property
    def divisor(self):
        """Clock cycles per UART bit at :attr:`default_baud`."""
        return round(self.clock_mhz * 1e6 / self.default_baud)


def _board_registry():
    try:
        from amaranth_boards.icebreaker import ICEBreakerPlatform
        from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_25FPlatform
        from amaranth_boards.ulx3s import ULX3S_85F_Platform
    except ImportError as error:
        raise ModuleNotFoundError(f"spikefab.boards.synth needs amaranth-boards ({error}); "
                                  f"install spikefab[fpga] (pip install 'spikefab[fpga]')",
                                  name="amaranth_boards") from error

    boards = [
        Board("icebreaker", "iCEBreaker", ICEBreakerPlatform, "ice40", "iCE40UP5K", 12.0,
              {"LUT": 5280, "FF": 5280, "BRAM": 30, "DSP": 8, "SPRAM": 4},
              synth_opts="-dsp -spram", bridge="FT2232H", bridge_max_baud=12_000_000,
              default_baud=3_000_000),
        Board("ulx3s", "ULX3S (85F)", ULX3S_85F_Platform, "ecp5", "LFE5U-85F", 25.0,
              {"LUT": 83640, "FF": 83640, "BRAM": 208, "DSP": 156}, bridge="FT231XS",
              bridge_max_baud=3_000_000, default_baud=1_000_000),
        Board("orangecrab", "OrangeCrab r0.2 (25F)", OrangeCrabR0_2_25FPlatform, "ecp5",
              "LFE5U-25F", 48.0, {"LUT": 24288, "FF": 24288, "BRAM": 56, "DSP": 28}),
    ]
    return {board.name: board for board in boards}


#: The reference boards by name (docs/design.md §6).
BOARDS = _board_registry()


def get_board(board):
    """Return the :class:`Board` for a name of :data:`BOARDS` (a :class:`Board` passes through).

    Raises :class:`ValueError` listing the known boards for an unknown name.
    """
    if isinstance(board, Board):
        return board
    if not isinstance(board, str):
        raise TypeError(f"board must be a board name or a Board, not {board!r}")
    try:
        return BOARDS[board]
    except KeyError:
        raise ValueError(f"unknown board {board!r}; known boards are "
                         f"{', '.join(repr(name) for name in BOARDS)}") from None


#: The base rate of each USB–UART bridge's baud generator (FTDI: ``B / d``, see
#: :func:`bridge_makes`); the highest rate it makes.
BRIDGE_BASE_BAUD = {"FT231XS": 3_000_000, "FT2232H": 12_000_000}

#: The UART receiver's smallest clock divisor (clock cycles per bit).
MIN_DIVISOR = 4


def bridge_makes(bridge, baud):
    """Whether the FTDI ``bridge`` makes ``baud`` exactly: ``B / d`` with ``B`` its
    :data:`BRIDGE_BASE_BAUD` and ``d`` 1, 1.5, or at least 2 in steps of 1/8."""
    from fractions import Fraction
    divisor = Fraction(BRIDGE_BASE_BAUD[bridge]) / Fraction(baud)
    return divisor in (1, Fraction(3, 2)) or (divisor >= 2 and (divisor * 8).denominator == 1)


def default_baud(board, clock_mhz=None):
    """The host link's UART rate for ``board`` at ``clock_mhz`` (the module docstring's
    rule): ``None``, the board's :attr:`Board.default_baud`; a PLL clock, the highest rate
    the board's bridge makes that ``clock_mhz`` makes with an integer divisor of at least
    :data:`MIN_DIVISOR` (115,200 on a board without a bridge)."""
    from fractions import Fraction
    board = get_board(board)
    if clock_mhz is None:
        return board.default_baud
    if board.bridge is None:
        return 115_200
    clock = Fraction(str(clock_mhz)) * 1_000_000
    for divisor in range(MIN_DIVISOR, int(clock // 300) + 1):
        baud = clock / divisor
        if baud <= board.bridge_max_baud and baud.denominator == 1 and bridge_makes(
                board.bridge, int(baud)):
            return int(baud)
    raise ValueError(f"no rate of the {board.title}'s {board.bridge} is made exactly by a "
                     f"{clock_mhz:g} MHz clock; give the baud rate")


#: Bits of one block RAM per family (iCE40 EBR 4 kbit, ECP5 DP16KD 18 kbit) and the geometry of
#: one iCE40 UP5K SPRAM block (16384 words of 16 bits).
BRAM_BITS = {"ice40": 4096, "ecp5": 18432}
SPRAM_WORDS, SPRAM_WIDTH = 16384, 16


def spram_blocks(width, depth):
    """SPRAM blocks a ``width`` x ``depth`` memory takes: blocks side by side for the width,
    stacked for the depth."""
    return -(-width // SPRAM_WIDTH) * -(-depth // SPRAM_WORDS)


def runtime_weight_layers(board, images):
    """The memory-mapping rule for weight stores (docs/design.md §7), per layer: ``True`` when the
    layer's weight store goes to SPRAM as a run-time loaded single-port memory.

    On a board with SPRAM (the iCEBreaker's UP5K: 4 blocks of 256 kbit), a weight store
    larger than half the device's block RAM goes to SPRAM when the layers chosen so far
    leave enough blocks for it (largest stores first); everything else stays block RAM
    with its contents in the bitstream. Boards without SPRAM get ``False`` everywhere.

    ``images``: the layers' :class:`~spikefab.model.WeightImage` (their ``weights``
    memory's width and depth decide).
    """
    board = get_board(board)
    blocks = board.resources.get("SPRAM", 0)
    chosen = [False] * len(images)
    if not blocks:
        return chosen
    limit = board.resources["BRAM"] * BRAM_BITS[board.family] // 2
    # A convolution core's kernel memory (no loadable memory) never goes to SPRAM.
    stores = [(image.memories["weights"].width, max(1, image.memories["weights"].depth))
              if image.memories else (0, 1) for image in images]
    for index in sorted(range(len(images)), key=lambda i: -stores[i][0] * stores[i][1]):
        width, depth = stores[index]
        need = spram_blocks(width, depth)
        if width * depth > limit and need <= blocks:
            chosen[index] = True
            blocks -= need
    return chosen
