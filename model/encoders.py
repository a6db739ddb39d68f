"""Input encoders: intensities → binary spike trains ``[B, T, N0]`` (docs/design.md §2).

Each encoder states its exact rule, so a hardware encoder can reproduce the trains bit for
bit. Intensities are integers ``x`` in ``[0, x_max]`` with ``x_max = 2**x_bits - 1``; use
:func:`to_intensity` to map floats in ``[0, 1]`` (or any range) onto that grid.

``spikes``
    The caller's own binary trains, validated (:func:`encode_spikes`).
``rate``
    Input ``i`` spikes at step ``t`` when ``x[i] > u[t, i]``. The thresholds ``u`` come from
    one 32-bit xorshift generator (Marsaglia 2003: ``s ^= s << 13; s ^= s >> 17;
    s ^= s << 5``, all modulo ``2**32``), a linear-feedback shift register over GF(2) with
    period ``2**32 - 1``. It is seeded with ``seed`` at the start of every sample and
    advanced once per (step, input) in raster order — ``t`` outer, ``i`` inner — before each
    draw; the draw is the state's top ``x_bits`` bits, ``u = s >> (32 - x_bits)``. So
    ``P(spike) = x / 2**x_bits`` and ``x = 0`` never spikes.
``latency``
    Time to first spike: input ``i`` with ``x > 0`` spikes once, at step
    ``t = ((x_max - x) * T) >> x_bits`` — the brightest (``x = x_max``) at ``t = 0``, the
    dimmest (``x = 1``) at ``t = T - 1`` for ``T <= 2**(x_bits-1)``; ``x = 0`` never spikes.
``direct``
    No spikes: the intensities themselves, once per sample, into a first layer that holds
    the current they make for the ``T`` steps (``Layer(x_bits=...)``, docs/design.md §13).
    :func:`encode_direct` gives the ``[T, N0]`` input values of such a network: ``x`` at step
    0, zeros after it.

:func:`encoder_cycles` is the cycle model of the on-chip encoder that makes these trains from
the pixels (:class:`spikefab.hw.input_encoder.InputEncoder`, docs/design.md §13).
"""

from functools import lru_cache

import numpy as np

from .checks import check_choice as _check_choice
from .checks import check_int as _check_param
from .simulate import check_spike_trains

__all__ = ["RATE_SEED", "X_BITS_RANGE", "encode", "encode_direct", "encode_images",
           "encode_latency", "encode_rate",
           "encode_spikes", "encoder_cycles", "encoder_schedule", "rate_thresholds", "to_intensity", "xorshift32"]

RATE_SEED = 0x2545F491
X_BITS_RANGE = (1, 16)
ENCODERS = ("spikes", "rate", "latency", "direct")
#: The encoders the on-chip encoder block builds, and its inputs scanned per cycle.
HARDWARE_ENCODERS = ("rate", "latency", "direct")
SCAN_RANGE = (1, 32)


def xorshift32(state):
    """One step of the 32-bit xorshift generator used by the ``rate`` encoder."""
    if isinstance(state, np.ndarray):
        if state.dtype.kind not in "ui":
            raise TypeError(f"state must be an integer array in [1, 2**32 - 1], not "
                            f"{state.dtype} values")
    else:
        _check_param("state", state, 1, 0xFFFFFFFF)
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    return state


@lru_cache(maxsize=32)
def _thresholds(n_inputs, steps, x_bits, seed):
    u = np.empty(steps * n_inputs, dtype=np.int64)
    state = seed
    shift = 32 - x_bits
    for n in range(steps * n_inputs):
        state = xorshift32(state)
        u[n] = state >> shift
    u = u.reshape(steps, n_inputs)
    u.setflags(write=False)
    return u


def rate_thresholds(n_inputs, steps, *, x_bits=8, seed=RATE_SEED):
    """The ``[T, N0]`` thresholds ``u`` of the ``rate`` encoder (identical for every sample)."""
    n_inputs = _check_param("n_inputs", n_inputs, 1, 1 << 20)
    steps = _check_param("steps", steps, 1, 1 << 16)
    x_bits = _check_param("x_bits", x_bits, *X_BITS_RANGE)
    seed = _check_param("seed", seed, 1, 0xFFFFFFFF)
    return _thresholds(n_inputs, steps, x_bits, seed)


def _intensities(x, x_bits):
    array = np.asarray(x)
    if array.ndim not in (1, 2):
        raise ValueError(f"intensities must have shape [N0] or [B, N0], got {array.shape}")
    batched = array.ndim == 2
    if not batched:
        array = array[None]
    x_max = (1 << x_bits) - 1
    if not np.issubdtype(array.dtype, np.integer):
        if (not np.issubdtype(array.dtype, np.floating)
                or not np.array_equal(array, np.round(array))):
            raise ValueError(f"intensities must be integers in [0, {x_max}]; "
                             f"use to_intensity() to map floats onto that grid")
    if array.size and (array.min() < 0 or array.max() > x_max):
        raise ValueError(f"intensities must lie in [0, {x_max}] (x_bits = {x_bits}); "
                         f"got values in [{array.min()}, {array.max()}]")
    return array.astype(np.int64), batched


def to_intensity(values, *, x_bits=8, lo=0.0, hi=1.0, clip=False):
    """Map floats in ``[lo, hi]`` to integers in ``[0, 2**x_bits - 1]`` (round half to even).
    A value outside ``[lo, hi]`` (or not finite) raises :class:`ValueError` naming it, unless
    ``clip=True`` asks for clipping to the range."""
    x_bits = _check_param("x_bits", x_bits, *X_BITS_RANGE)
    if not hi > lo:
        raise ValueError(f"hi must be greater than lo, got lo = {lo}, hi = {hi}")
    x_max = (1 << x_bits) - 1
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("values must be a numeric array") from None
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite (they hold NaN or infinity)")
    if not clip and array.size and (array.min() < lo or array.max() > hi):
        bad = array.min() if array.min() < lo else array.max()
        raise ValueError(f"values must lie in [lo, hi] = [{lo}, {hi}]; got {bad} (pass "
                         f"clip=True to clip to the range)")
    scaled = (array - lo) / (hi - lo) * x_max
    return np.clip(np.round(scaled), 0, x_max).astype(np.int64)


def encode_spikes(spikes, n_inputs=None):
    """Validate caller-made binary trains ``[T, N0]`` or ``[B, T, N0]``; return bool arrays
    of the same shape."""
    array = np.asarray(spikes)
    if n_inputs is None:
        n_inputs = array.shape[-1] if array.ndim else 0
    trains, batched = check_spike_trains(array, n_inputs)
    return trains if batched else trains[0]


def encode_rate(x, steps, *, x_bits=8, seed=RATE_SEED):
    """Rate-code intensities ``x`` (``[N0]`` or ``[B, N0]``) into ``steps`` steps.

    >>> from spikefab.model import encode_rate
    >>> encode_rate([0, 255], 4).astype(int).tolist()   # 0 never fires, 255 fires unless u = 255
    [[0, 1], [0, 1], [0, 1], [0, 1]]
    """
    x_bits = _check_param("x_bits", x_bits, *X_BITS_RANGE)
    values, batched = _intensities(x, x_bits)
    u = rate_thresholds(values.shape[1], steps, x_bits=x_bits, seed=seed)
    trains = values[:, None, :] > u[None]
    return trains if batched else trains[0]


def encode_latency(x, steps, *, x_bits=8):
    """Time-to-first-spike code: one spike per non-zero input, earlier for brighter inputs.

    >>> from spikefab.model import encode_latency
    >>> encode_latency([255, 128, 1, 0], 4, x_bits=8).astype(int).T.tolist()
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    """
    x_bits = _check_param("x_bits", x_bits, *X_BITS_RANGE)
    steps = _check_param("steps", steps, 1, 1 << 16)
    values, batched = _intensities(x, x_bits)
    fire_at = _latency_steps(values, steps, x_bits)
    trains = np.arange(steps)[None, :, None] == fire_at[:, None, :]
    return trains if batched else trains[0]


def encode_direct(x, steps, *, x_bits=8):
    """The input values of a direct network (``Layer(x_bits=...)`` first) for intensities
    ``x`` (``[N0]`` or ``[B, N0]``, integers in ``[0, 2**x_bits - 1]``): ``[T, N0]`` (or
    ``[B, T, N0]``) unsigned values, ``x`` at step 0 and zero at the others — the sample's
    input events are ``x``'s non-zero values, once.

    >>> from spikefab.model import encode_direct
    >>> encode_direct([0, 200, 7], 3).tolist()
    [[0, 200, 7], [0, 0, 0], [0, 0, 0]]
    """
    x_bits = _check_param("x_bits", x_bits, *X_BITS_RANGE)
    steps = _check_param("steps", steps, 1, 1 << 16)
    values, batched = _intensities(x, x_bits)
    out = np.zeros((values.shape[0], steps, values.shape[1]),
                   dtype=np.uint8 if x_bits <= 8 else np.uint16)
    out[:, 0] = values
    return out if batched else out[0]


def _latency_steps(values, steps, x_bits):
    """The step at which each checked intensity of ``values`` (integers in ``[0, 2**x_bits -
    1]``, any shape) fires in :func:`encode_latency`: ``((x_max - x) * steps) >> x_bits``,
    and ``steps`` (never) for ``x = 0`` — what the on-chip encoder stores per pixel."""
    fire_at = (((1 << x_bits) - 1 - values) * steps) >> x_bits
    return np.where(values > 0, fire_at, steps)


def encode_images(images, steps, kind="rate"):
    """Spike trains ``[n, steps, inputs]`` of ``images`` in [0, 1] (as
    :func:`spikefab.model.load_dataset` gives them): ``kind`` (``"rate"``, ``"latency"`` or
    ``"direct"``) of their 8-bit intensities :func:`to_intensity` (``direct``: the values of
    :func:`encode_direct`, not binary)."""
    if kind not in ("rate", "latency", "direct"):
        raise ValueError(f"encoder = {kind!r} is not allowed for images; choose rate, latency "
                         f"or direct")
    steps = _check_param("steps", steps, 1, 1 << 16)
    try:
        intensities = to_intensity(images)
    except (TypeError, ValueError) as error:
        raise type(error)(f"images: {error}") from None
    return encode(kind, intensities, steps)


def encode(kind, x, steps=None, **options):
    """Dispatch to the encoder named ``kind`` (``"spikes"``, ``"rate"``, ``"latency"`` or
    ``"direct"``)."""
    if kind == "spikes":
        return encode_spikes(x, **options)
    if kind == "rate":
        return encode_rate(x, steps, **options)
    if kind == "latency":
        return encode_latency(x, steps, **options)
    if kind == "direct":
        return encode_direct(x, steps, **options)
    raise ValueError(f"encoder = {kind!r} is not allowed; choose one of {', '.join(ENCODERS)}")


def encoder_cycles(x, steps, *, kind="rate", scan=1, x_bits=8, seed=RATE_SEED):
    """Cycles of the on-chip encoder (:class:`spikefab.hw.input_encoder.InputEncoder`) for
    the intensities ``x`` (``[N0]``, or ``[B, N0]`` for one count per sample): from the
    cycle its ``start`` is taken to the cycle it pushes the ``SAMPLE`` marker, with an
    output that is always ready (each cycle the output is valid but not ready adds one).

    The block scans ``G = ceil(N0 / scan)`` groups of ``scan`` inputs per step; a group with
    ``p`` spikes costs ``max(1, p)`` cycles (one spike pushed per cycle), each ``STEP``
    marker one, and the first group can push two cycles after ``start`` (one to read the
    pixel memory, one to register the group's spike mask)::

        cycles = 2 + T * (G + 1) + sum over (t, g) of max(0, p[t, g] - 1)

    where ``p[t, g]`` counts the spikes of inputs ``g*scan … g*scan + scan - 1`` at step
    ``t`` in :func:`encode_rate` or :func:`encode_latency` (``kind``). ``direct`` scans the
    groups once, at step 0, for the non-zero intensities (each one event carrying its value,
    :func:`encode_direct`), and then pushes the ``T`` markers one per cycle::

        cycles = 2 + G + T + sum over g of max(0, p[0, g] - 1)

    The block is idle again the cycle after the ``SAMPLE`` push, so back-to-back samples
    start ``cycles + 1`` apart.

    >>> encoder_cycles([255, 255, 0, 128], 2, kind="latency", scan=2)   # 2 + 2 * 3 + 1
    9
    """
    _, per_group, batched = _group_spikes(x, steps, kind, scan, x_bits, seed)
    steps, groups = per_group.shape[1:]
    extra = np.maximum(per_group - 1, 0).sum(axis=(1, 2))
    scanned = 1 if kind == "direct" else steps              # the steps whose groups it scans
    cycles = 2 + scanned * groups + steps + extra
    return cycles if batched else int(cycles[0])


def _group_spikes(x, steps, kind, scan, x_bits, seed):
    """``(trains [B, T, N0], spikes per group [B, T, G])`` of the on-chip encoder (for
    ``direct``, its events: the non-zero intensities, at step 0)."""
    kind = _check_choice("kind", kind, HARDWARE_ENCODERS)
    scan = _check_param("scan", scan, *SCAN_RANGE)
    x_bits = _check_param("x_bits", x_bits, *X_BITS_RANGE)
    if kind == "rate":
        trains = encode_rate(x, steps, x_bits=x_bits, seed=seed)
    elif kind == "direct":
        trains = encode_direct(x, steps, x_bits=x_bits) != 0
    else:
        trains = encode_latency(x, steps, x_bits=x_bits)
    batched = trains.ndim == 3
    if not batched:
        trains = trains[None]
    samples, steps, inputs = trains.shape
    groups = -(-inputs // scan)
    padded = np.zeros((samples, steps, groups * scan), dtype=np.int64)
    padded[:, :, :inputs] = trains
    return trains, padded.reshape(samples, steps, groups, scan).sum(axis=3), batched


def encoder_schedule(x, steps, *, kind="rate", scan=1, x_bits=8, seed=RATE_SEED):
    """When the on-chip encoder offers each event of one sample ``x`` (``[N0]``): the
    ``delays`` of a cycle-model frame ``(start, count, delays)`` whose ``start`` is the cycle
    the encoder's ``start`` was taken (:func:`spikefab.model.cycle_model`, ``frames``).

    The events are ``event_stream`` order (per step the spikes by address, ``STEP``; then
    ``SAMPLE``). The first is offered ``2 + s`` cycles after the start, each next one ``1 + s``
    cycles after the previous one went in, ``s`` the groups without spikes the encoder scans
    in between (one cycle each; docs/design.md §13): under back-pressure an event waits, and
    everything after it with it. (``direct`` scans the groups of step 0 only.)

    >>> encoder_schedule([0, 255, 0, 0], 2, kind="latency", scan=2)  # groups {0,1}, {2,3}
    [2, 2, 3, 1]
    """
    _, spikes, _ = _group_spikes(np.asarray(x)[None] if np.ndim(x) == 1 else x, steps, kind,
                                 scan, x_bits, seed)
    if spikes.shape[0] != 1:
        raise ValueError(f"x must be one sample's intensities [N0], not shape {np.shape(x)}")
    delays, gap = [], 2
    for t, per_step in enumerate(spikes[0]):
        for count in per_step.tolist() if t == 0 or kind != "direct" else ():
            if count == 0:
                gap += 1
                continue
            delays.append(gap)
            delays.extend([1] * (count - 1))
            gap = 1
        delays.append(gap)                   # STEP
        gap = 1
    delays.append(gap)                       # SAMPLE
    return delays
