"""Event-camera input made from still images: N-MNIST-like ON/OFF event streams (issue 22).

N-MNIST (Orchard et al., 2015) was recorded by an ATIS event camera on a pan-tilt unit that
moved in three saccades along a triangle in front of MNIST digits shown on a monitor: 34 × 34
pixels (the 28 × 28 digit plus room for the motion), ON events where a pixel's log intensity
rose by a contrast step, OFF events where it fell. No event data set ships on PyPI and nothing
may be downloaded at run time, so :func:`saccade_events` makes such streams from any images
(the bundled MNIST ones, or scikit-learn's digits), seeded and exactly reproducible.

The generator, step by step (all NumPy, float64):

1. **Canvas.** Each ``h × w`` image in [0, 1] is placed at the centre of an
   ``(h + 2·margin) × (w + 2·margin)`` canvas (``margin`` 3: 28 → 34).
2. **Saccades.** The canvas content moves along a closed triangle of three straight
   saccades, ``(0, 0) → (a, a/2) → (0, a) → (0, 0)`` in (rows, columns) with ``a`` the
   ``amplitude`` in pixels, the two middle corners jittered by a uniform ``±jitter`` pixels
   per sample (seeded). Step 0 is the start; the ``steps - 1`` moves are split over the
   three saccades as evenly as possible, so the last step is back at the start. The image
   at a sub-pixel offset is bilinear interpolation of the canvas (zero outside).
3. **Pixels.** Each pixel tracks ``L = log(intensity + eps)`` against a reference level,
   initialised to the first frame's ``L``. In a step where ``L - ref >= threshold`` it emits
   one ON event and raises ``ref`` by ``threshold``; where ``ref - L >= threshold``, one OFF
   event, ``ref`` lowered by ``threshold`` (one event per pixel and polarity per step at
   most: a larger change spreads over the following steps, like a camera's refractory
   period).
4. **Noise.** With ``noise > 0`` every pixel and polarity also fires with that probability
   per step (seeded), as a sensor's background activity.

The result is a binary ``[B, T, 2·H·W]`` array in NIR's C, H, W order: channel 0 the ON
events, channel 1 the OFF events, the input of a ``Conv2dGeometry(2, H, W, …)`` layer.
"""

import numpy as np

from .checks import check_int, check_number

__all__ = ["saccade_events", "saccade_path"]

#: The added log-intensity floor: ``log(0 + EPS)`` is the black level.
EPS = 0.05


def saccade_path(steps, amplitude=2.0, jitter=0.0, rng=None):
    """The ``(row, column)`` offset of the canvas content at each of ``steps`` steps: three
    straight saccades along the triangle ``(0, 0) → (a, a/2) → (0, a) → (0, 0)`` (``a`` the
    ``amplitude`` in pixels), corners jittered by ``±jitter`` (uniform, from ``rng``).
    Returns a float ``[steps, 2]`` array."""
    steps = check_int("steps", steps, 1, 1 << 16)
    amplitude = check_number("amplitude", amplitude, 0.0, 64.0)
    jitter = check_number("jitter", jitter, 0.0, 16.0)
    corners = np.array([[0.0, 0.0], [amplitude, amplitude / 2], [0.0, amplitude], [0.0, 0.0]])
    if jitter:
        rng = np.random.default_rng() if rng is None else rng
        corners[1:3] += rng.uniform(-jitter, jitter, (2, 2))
    # step 0 is the start; the steps - 1 moves are split over the three saccades as evenly
    # as possible, the earlier saccades taking the extra ones
    moves = steps - 1
    counts = [moves // 3 + (1 if i < moves % 3 else 0) for i in range(3)]
    path = [corners[0]]
    for (start, end), count in zip(zip(corners[:-1], corners[1:]), counts):
        for k in range(1, count + 1):
            path.append(start + (end - start) * k / count)
    return np.array(path)


def _shifted(canvas, dy, dx):
    """``canvas`` (``[B, H, W]``) moved by ``(dy, dx)`` pixels, bilinear, zero outside."""
    b, h, w = canvas.shape
    ys, xs = np.arange(h) - dy, np.arange(w) - dx            # where each output pixel reads
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    padded = np.zeros((b, h + 2, w + 2))
    padded[:, 1:-1, 1:-1] = canvas

    def at(y, x):
        return padded[:, np.clip(y + 1, 0, h + 1)[:, None], np.clip(x + 1, 0, w + 1)[None, :]]
    return ((1 - fy)[:, None] * (1 - fx)[None, :] * at(y0, x0)
            + (1 - fy)[:, None] * fx[None, :] * at(y0, x0 + 1)
            + fy[:, None] * (1 - fx)[None, :] * at(y0 + 1, x0)
            + fy[:, None] * fx[None, :] * at(y0 + 1, x0 + 1))


def saccade_events(images, steps=25, *, margin=3, amplitude=2.0, jitter=0.5,
                   threshold=0.25, noise=0.0, seed=0):
    """ON/OFF event streams of ``images`` (``[B, h, w]`` or ``[B, h·w]`` square, values in
    [0, 1]) seen by a simulated event camera in three saccades (module docstring): a binary
    ``[B, steps, 2·H·W]`` array, ``H = h + 2·margin``, channel 0 ON, channel 1 OFF.

    ``amplitude``: saccade size in pixels; ``jitter``: per-sample random corner offset in
    pixels; ``threshold``: the log-intensity contrast step of one event; ``noise``:
    background event probability per pixel, polarity and step; ``seed``: every random draw
    (jitter, noise) comes from ``numpy.random.default_rng(seed)``, in sample order, so the
    same arguments give the same events.
    """
    array = np.asarray(images, dtype=np.float64)
    if array.ndim == 2:
        side = int(round(np.sqrt(array.shape[1])))
        if side * side != array.shape[1]:
            raise ValueError(f"flat images of {array.shape[1]} pixels are not square; give "
                             f"[B, h, w]")
        array = array.reshape(len(array), side, side)
    if array.ndim != 3 or not array.size:
        raise ValueError(f"images must have shape [B, h, w] (or [B, h*w] square) with B >= 1, "
                         f"not {np.shape(images)}")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise ValueError("images must hold intensities in [0, 1] (load_dataset gives them)")
    steps = check_int("steps", steps, 1, 1 << 16)
    margin = check_int("margin", margin, 0, 64)
    threshold = check_number("threshold", threshold, 0.0, 10.0, low_open=True)
    noise = check_number("noise", noise, 0.0, 1.0)
    rng = np.random.default_rng(check_int("seed", seed, 0, (1 << 63) - 1))
    batch, h, w = array.shape
    canvas = np.zeros((batch, h + 2 * margin, w + 2 * margin))
    canvas[:, margin:margin + h, margin:margin + w] = array
    paths = np.stack([saccade_path(steps, amplitude, jitter, rng) for _ in range(batch)])
    frames_h, frames_w = canvas.shape[1:]
    out = np.zeros((batch, steps, 2, frames_h, frames_w), dtype=bool)
    ref = np.log(canvas + EPS)                 # the reference level: the first frame
    for t in range(steps):
        level = np.stack([np.log(_shifted(canvas[i:i + 1], *paths[i, t])[0] + EPS)
                          for i in range(batch)])
        on = level - ref >= threshold
        off = ref - level >= threshold
        ref = ref + threshold * on - threshold * off
        out[:, t, 0], out[:, t, 1] = on, off
    if noise:
        out |= rng.random(out.shape) < noise
    return out.reshape(batch, steps, -1)
