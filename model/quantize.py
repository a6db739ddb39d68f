"""From float networks to the integer network: quantization and magnitude pruning.

Scale rule (symmetric, per layer, max-abs)
------------------------------------------
For a float layer with weights ``W``, bias ``b`` and threshold ``theta`` (the same units as
``W``), the integer layer uses one scale per layer::

    scale   = (2**(w_bits-1) - 1) / max|W|
    W_int   = clip(round(W * scale), -(2**(w_bits-1)), 2**(w_bits-1) - 1)
    b_int   = round(b * scale)
    theta_i = max(1, round(theta * scale))

``round`` is round-half-to-even (NumPy's). Because the membrane is linear in ``W``, ``b`` and
``theta``, scaling all three by the same factor keeps the float network's firing behaviour
up to rounding. Leak factors are not scaled; pick ``k`` (``beta = 1 - 2**-k``) or ``m, f``
(``beta = m / 2**f``) with :func:`leak_for_beta`.

Pruning
-------
:func:`prune` zeroes the smallest-magnitude weights to reach a target density (fraction of
weights kept), either globally over the matrix or balanced per PE lane: with
``lanes = P``, every column keeps the same share of non-zeros in each of the ``P`` lanes
(neurons ``i ≡ p (mod P)``), so the lane-aligned formats need ``ceil(density * rows)``
words per column instead of the worst lane's count. Ties in magnitude are broken by
position (lower flat index kept first) so the result is deterministic.
"""

import math

import numpy as np

from .checks import check_choice, check_instance, check_int, check_number, float_array, per_layer
from .network import Layer, Network, V_BITS_RANGE, W_BITS_RANGE

__all__ = ["leak_for_beta", "prune", "prune_network", "quantize_layer", "quantize_network",
           "weight_scale"]


def _check_density(density):
    if isinstance(density, bool) or not isinstance(density, (int, float, np.floating, np.integer)):
        raise TypeError(f"density must be a number in (0, 1], not {density!r}")
    if not 0 < density <= 1:
        raise ValueError(f"density = {density} is out of range; allowed range is (0, 1] "
                         f"(the fraction of weights kept)")
    return float(density)


def weight_scale(weights, w_bits):
    """The per-layer scale of the max-abs rule: ``(2**(w_bits-1) - 1) / max|W|``."""
    check_int("w_bits", w_bits, *W_BITS_RANGE)
    peak = float(np.max(np.abs(float_array("weights", weights)), initial=0.0))
    if peak == 0:
        raise ValueError("weights must hold at least one non-zero value to be quantized")
    return ((1 << (w_bits - 1)) - 1) / peak


def _round_int(values):
    return np.round(np.asarray(values, dtype=np.float64)).astype(np.int64)


def quantize_layer(weights, *, w_bits, threshold=1.0, bias=None, v_bits=None, scale=None,
                   **neuron):
    """Quantize one float layer to a :class:`Layer` with the max-abs scale rule.

    Parameters
    ----------
    weights : float array ``(neurons, fan_in)``
    w_bits : int
    threshold : float
        Float firing threshold in the units of ``weights``.
    bias : float array ``(neurons,)``, optional
    v_bits : int, optional
        Membrane width. Default: the smallest width in ``[3, 32]`` whose signed range holds
        ``2 * theta`` and the largest input current ``|W s + b|`` over binary inputs (for a
        direct input layer, ``x_bits`` given: ``|(W x >> x_shift) + b|`` over inputs ``x`` in
        ``[0, 2**x_bits - 1]``), so saturation only matters for long runs of strong input.
    scale : float, optional
        Override the max-abs scale (for example to share one scale between layers).
    **neuron
        ``leak``, ``k``, ``m``, ``f``, ``reset``, ``timing``, ``x_bits``, ``x_shift`` passed
        on to :class:`Layer`.

    >>> import numpy as np
    >>> from spikefab.model import quantize_layer
    >>> layer = quantize_layer(np.array([[0.5, -1.0], [0.25, 0.0]]), w_bits=4, threshold=0.8)
    >>> layer.weights.tolist(), layer.theta    # scale = 7 / 1.0
    ([[4, -7], [2, 0]], 6)
    """
    weights = float_array("weights", weights, 2)
    check_int("w_bits", w_bits, *W_BITS_RANGE)
    if scale is None:
        scale = weight_scale(weights, w_bits)
    elif not (isinstance(scale, (int, float)) and scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a finite number > 0, not {scale!r}")
    if not (isinstance(threshold, (int, float, np.floating)) and threshold > 0):
        raise ValueError(f"threshold must be a number > 0, not {threshold!r}")
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    w_int = np.clip(_round_int(weights * scale), lo, hi)
    theta = max(1, int(_round_int(threshold * scale)))
    b_int = None if bias is None else _round_int(float_array("bias", bias) * scale)
    if v_bits is None:
        pos = np.clip(w_int, 0, None).sum(axis=1)
        neg = -np.clip(w_int, None, 0).sum(axis=1)
        if neuron.get("x_bits") is not None:      # a direct layer: (W x) >> x_shift
            x_bits = neuron["x_bits"]
            shift = x_bits if neuron.get("x_shift") is None else neuron["x_shift"]
            x_max = (1 << x_bits) - 1
            pos, neg = (pos * x_max) >> shift, -((-neg * x_max) >> shift)
        if b_int is not None:
            pos, neg = pos + np.clip(b_int, 0, None), neg - np.clip(b_int, None, 0)
        need = max(2 * theta + 2, int(pos.max()), int(neg.max()))
        v_bits = min(V_BITS_RANGE[1], max(V_BITS_RANGE[0], need.bit_length() + 1))
    return Layer(w_int, theta=theta, w_bits=w_bits, v_bits=v_bits, bias=b_int, **neuron)


def quantize_network(weights, *, w_bits, thresholds=1.0, biases=None, v_bits=None, **neuron):
    """Quantize a float MLP layer by layer (each with its own max-abs scale).

    ``weights`` is a list of ``(neurons, fan_in)`` float arrays; ``thresholds``, ``biases``,
    ``w_bits`` and ``v_bits`` are one value for all layers or a list with one per layer;
    ``neuron`` options apply to every layer.
    """
    if isinstance(weights, np.ndarray) and weights.ndim == 2:
        weights = [weights]
    if not isinstance(weights, (list, tuple)) or not weights:
        raise TypeError(f"weights must be a non-empty list of 2-D arrays, one (neurons, fan_in) "
                        f"matrix per layer, not {type(weights).__name__}")
    count = len(weights)
    layers = [quantize_layer(w, w_bits=wb, threshold=th, bias=b, v_bits=vb, **neuron)
              for w, wb, th, b, vb in zip(weights, per_layer("w_bits", w_bits, count),
                                          per_layer("thresholds", thresholds, count),
                                          per_layer("biases", biases, count),
                                          per_layer("v_bits", v_bits, count))]
    return Network(layers)


def _keep_top(magnitude, keep):
    """Boolean mask of the ``keep`` largest entries of a 1-D array (ties: lower index)."""
    mask = np.zeros(magnitude.shape, dtype=np.bool_)
    if keep > 0:
        order = np.argsort(-magnitude, kind="stable")
        mask[order[:keep]] = True
    return mask & (magnitude > 0)


def prune(weights, density, *, lanes=None):
    """Zero the smallest-magnitude weights so that at most ``density`` of them stay.

    ``lanes=None`` prunes globally: keep ``round(density * size)`` weights. ``lanes=P``
    balances per PE lane: in every column, each lane ``p`` (rows ``i ≡ p mod P``) keeps
    ``ceil(density * rows_p)`` of its ``rows_p`` weights. Weights already zero stay zero.
    Returns a new array of the input's dtype.
    """
    density = _check_density(density)
    magnitude = np.abs(float_array("weights", weights, 2))
    array = np.asarray(weights)
    if lanes is None:
        keep = int(round(density * array.size))
        mask = _keep_top(magnitude.ravel(), keep).reshape(array.shape)
    else:
        neurons = array.shape[0]
        if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)):
            raise TypeError(f"lanes must be an integer in [1, {neurons}], not {lanes!r}")
        if not 1 <= lanes <= neurons:
            raise ValueError(f"lanes = {lanes} is out of range; allowed range is [1, {neurons}]")
        mask = np.zeros(array.shape, dtype=np.bool_)
        for p in range(lanes):
            rows = np.arange(p, neurons, lanes)
            keep = math.ceil(density * len(rows) - 1e-9)
            for j in range(array.shape[1]):
                mask[rows, j] = _keep_top(magnitude[rows, j], keep)
    return np.where(mask, array, 0).astype(array.dtype)


def prune_network(network, density, *, lanes=None):
    """Prune every layer of an integer :class:`Network` to ``density`` (one value, or one per
    layer); ``lanes`` likewise (``None`` for global pruning)."""
    check_instance("network", network, Network)
    count = len(network)
    densities = per_layer("density", density, count)
    lane_list = per_layer("lanes", lanes, count)
    return Network([layer.replace(weights=prune(layer.weights, d, lanes=p))
                    for layer, d, p in zip(network, densities, lane_list)])


def leak_for_beta(beta, *, mode="shift", f=8):
    """Closest integer leak parameters for a float decay ``beta`` in ``[0, 1]``.

    Returns ``{"leak": "shift", "k": k}`` with ``1 - 2**-k`` closest to ``beta``, or
    ``{"leak": "mul", "m": m, "f": f}`` with ``m = round(beta * 2**f)``; ``beta == 1`` gives
    ``{"leak": "none"}``.
    """
    check_number("beta", beta, 0, 1)
    check_choice("mode", mode, ("shift", "mul"))
    if beta == 1:
        return {"leak": "none"}
    if mode == "shift":
        k = min(range(0, 31), key=lambda k: abs(1 - 2.0 ** -k - beta))
        return {"leak": "shift", "k": k}
    if mode == "mul":
        return {"leak": "mul", "m": int(round(beta * (1 << f))), "f": f}
    raise ValueError(f"mode = {mode!r} is not allowed; choose one of shift, mul")
