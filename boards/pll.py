"""PLL parameters for a board clock other than the oscillator (docs/design.md §6).

A board top built with ``clock_mhz`` (:class:`~spikefab.boards.top.BoardTop`) runs its
``sync`` domain from the FPGA's PLL, fed by the board oscillator. The parameters come from
an exact search over the PLL's integer dividers, the same search (order, limits and tie
rule) as the open tools that print them, so a frequency is either made exactly or refused:

* iCE40 (``SB_PLL40_PAD``, ``FEEDBACK_PATH = "SIMPLE"``): :func:`ice40_pll`, as icestorm's
  ``icepll``: ``f_out = f_in / (DIVR + 1) * (DIVF + 1) / 2**DIVQ`` with DIVR 0–15,
  DIVF 0–127, DIVQ 1–6, the phase detector (PFD) at 10–133 MHz, the VCO at 533–1066 MHz,
  the output at 16–275 MHz; ``FILTER_RANGE`` from the PFD frequency as icepll sets it.
* ECP5 (``EHXPLLL``, feedback from ``CLKOP``): :func:`ecp5_pll`, as prjtrellis' ``ecppll``:
  ``f_out = f_in / CLKI_DIV * CLKFB_DIV`` and ``f_vco = f_out * CLKOP_DIV`` with CLKI_DIV
  1–128, CLKFB_DIV 1–80, CLKOP_DIV 1–128, the PFD at 3.125–400 MHz, the VCO at 400–800 MHz,
  the output at 10–400 MHz; among exact choices the VCO nearest 600 MHz, and
  ``CLKOP_CPHASE`` as ecppll computes it (half an output period in VCO cycles, truncated
  after ecppll's single-precision arithmetic).

The search is exact (rational arithmetic): a frequency the dividers cannot make is refused
with a ``ValueError`` that names the nearest frequencies they make.
"""

from fractions import Fraction

import numpy as np

__all__ = ["ECP5_LIMITS", "ICE40_LIMITS", "ecp5_pll", "ice40_pll", "makeable", "pll_for"]

#: MHz limits of the iCE40 PLL as icepll checks them.
ICE40_LIMITS = {"input": (10, 133), "pfd": (10, 133), "vco": (533, 1066), "output": (16, 275)}
#: MHz limits of the ECP5 PLL as ecppll checks them.
ECP5_LIMITS = {"input": (8, 400), "pfd": (Fraction(3125, 1000), 400), "vco": (400, 800),
               "output": (10, 400)}


def _mhz(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise TypeError(f"{name} must be a number of MHz, not {value!r}")
    if not value > 0:
        raise ValueError(f"{name} = {value!r} MHz is out of range; it must be above 0")
    return Fraction(value) if not isinstance(value, float) else Fraction(str(value))


def _ice40_choices(f_in):
    low, high = ICE40_LIMITS["pfd"]
    vlow, vhigh = ICE40_LIMITS["vco"]
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not low <= pfd <= high:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not vlow <= vco <= vhigh:
                continue
            for divq in range(1, 7):
                yield vco / 2 ** divq, vco, pfd, {"DIVR": divr, "DIVF": divf, "DIVQ": divq}


def _ecp5_choices(f_in):
    low, high = ECP5_LIMITS["pfd"]
    vlow, vhigh = ECP5_LIMITS["vco"]
    for clki in range(1, 129):
        pfd = f_in / clki
        if not low <= pfd <= high:
            continue
        for clkfb in range(1, 81):
            out = pfd * clkfb
            # the CLKOP_DIV that put the VCO (out * CLKOP_DIV) in range, in ecppll's order
            first = max(1, -(-vlow // out))
            for clkop in range(int(first), min(128, int(vhigh // out)) + 1):
                yield out, out * clkop, pfd, {"CLKI_DIV": clki, "CLKFB_DIV": clkfb,
                                              "CLKOP_DIV": clkop}


def _choices(family, f_in):
    if family == "ice40":
        return _ice40_choices(f_in), ICE40_LIMITS
    if family == "ecp5":
        return _ecp5_choices(f_in), ECP5_LIMITS
    raise ValueError(f"family = {family!r} has no PLL here; allowed: 'ice40', 'ecp5'")


def makeable(family, f_in_mhz):
    """Every output frequency (MHz, exact :class:`~fractions.Fraction`) the ``family``'s PLL
    makes from ``f_in_mhz``, within its output range, sorted."""
    f_in = _mhz("f_in_mhz", f_in_mhz)
    choices, limits = _choices(family, f_in)
    low, high = limits["output"]
    return sorted({out for out, *_ in choices if low <= out <= high})


def _check_range(name, limits, f_in, f_out):
    """Refuse an oscillator or output frequency outside the ``name`` PLL's ``limits``."""
    for flag, value, key, verb in (("f_in_mhz", f_in, "input", "takes"),
                                   ("clock_mhz", f_out, "output", "makes")):
        lo, hi = limits[key]
        if not lo <= value <= hi:
            raise ValueError(f"{flag} = {float(value):g} is out of range; the {name} PLL "
                             f"{verb} [{lo}, {hi}] MHz")


def _refuse(family, f_in, f_out, what):
    outputs = makeable(family, f_in)
    below = [f for f in outputs if f < f_out]
    above = [f for f in outputs if f > f_out]
    near = ([f"{float(below[-1]):g}"] if below else []) + ([f"{float(above[0]):g}"] if above
                                                           else [])
    return ValueError(f"clock_mhz = {float(f_out):g} MHz {what} from the {float(f_in):g} MHz "
                      f"oscillator by the {family.upper() if family == 'ecp5' else 'iCE40'} "
                      f"PLL; the nearest frequencies it makes are {' and '.join(near)} MHz")


def ice40_pll(f_in_mhz, f_out_mhz):
    """The iCE40 ``SB_PLL40_*`` parameters that make ``f_out_mhz`` exactly from
    ``f_in_mhz`` (SIMPLE feedback): a dict of ``DIVR``, ``DIVF``, ``DIVQ``,
    ``FILTER_RANGE`` and the MHz ``pfd``, ``vco``, ``output`` (the first exact choice in
    icepll's search order). Raises ``ValueError`` naming the nearest makeable frequencies."""
    f_in, f_out = _mhz("f_in_mhz", f_in_mhz), _mhz("clock_mhz", f_out_mhz)
    _check_range("iCE40", ICE40_LIMITS, f_in, f_out)
    for out, vco, pfd, params in _ice40_choices(f_in):
        if out == f_out:
            filter_range = (1 if pfd < 17 else 2 if pfd < 26 else 3 if pfd < 44 else
                            4 if pfd < 66 else 5 if pfd < 101 else 6)
            return {**params, "FILTER_RANGE": filter_range, "pfd": float(pfd),
                    "vco": float(vco), "output": float(out)}
    raise _refuse("ice40", f_in, f_out, "cannot be made exactly")


def ecp5_pll(f_in_mhz, f_out_mhz):
    """The ECP5 ``EHXPLLL`` parameters that make ``f_out_mhz`` exactly from ``f_in_mhz``
    (feedback from ``CLKOP``): a dict of ``CLKI_DIV``, ``CLKFB_DIV``, ``CLKOP_DIV``,
    ``CLKOP_CPHASE`` and the MHz ``pfd``, ``vco``, ``output`` (ecppll's choice: the VCO
    nearest 600 MHz, the first in its search order). Raises ``ValueError`` naming the
    nearest makeable frequencies."""
    f_in, f_out = _mhz("f_in_mhz", f_in_mhz), _mhz("clock_mhz", f_out_mhz)
    _check_range("ECP5", ECP5_LIMITS, f_in, f_out)
    best = None
    for out, vco, pfd, params in _ecp5_choices(f_in):
        if out == f_out and (best is None or abs(vco - 600) < abs(best[0] - 600)):
            best = vco, pfd, params
    if best is None:
        raise _refuse("ecp5", f_in, f_out, "cannot be made exactly")
    vco, pfd, params = best
    # ecppll: float ns_phase = 1/(fout * 1e6) * 0.5; cphase = ns_phase * (fvco * 1e6)
    ns_phase = float(np.float32(1 / (float(np.float32(float(f_out))) * 1e6) * 0.5))
    cphase = int(ns_phase * (float(np.float32(float(vco))) * 1e6))
    return {**params, "CLKOP_CPHASE": cphase, "pfd": float(pfd), "vco": float(vco),
            "output": float(f_out)}


def pll_for(family, f_in_mhz, f_out_mhz):
    """:func:`ice40_pll` or :func:`ecp5_pll` by ``family`` (``"ice40"``, ``"ecp5"``)."""
    if family == "ice40":
        return ice40_pll(f_in_mhz, f_out_mhz)
    if family == "ecp5":
        return ecp5_pll(f_in_mhz, f_out_mhz)
    raise ValueError(f"family = {family!r} has no PLL here; allowed: 'ice40', 'ecp5'")
