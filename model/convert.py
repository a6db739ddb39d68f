"""Rate-based conversion of a trained ReLU MLP into an integer spiking network.

Data-based threshold balancing (Diehl et al. 2015; Rueckauer et al. 2017): for every layer
``l`` take ``lam_l``, a high percentile (default: the maximum) of its ReLU activations on
calibration data, with ``lam_0 = 1`` for inputs scaled to ``[0, 1]``. An integrate-and-fire
neuron with subtract reset then fires at a rate proportional to its ReLU activation when its
layer is scaled as::

    weights W_l * lam_{l-1},   bias b_l,   threshold lam_l

(the rate of layer ``l-1`` is ``a_{l-1} / lam_{l-1}``, so the current per step is
``W_l a_{l-1} + b_l`` and the firing rate ``a_l / lam_l``). Each layer is then quantized to
integers with the max-abs rule of :mod:`.quantize` (weights, bias and threshold share the
layer's scale), after optional magnitude pruning.
"""

import numpy as np

from .network import Network
from .quantize import prune, quantize_layer

__all__ = ["balance_thresholds", "convert_mlp"]


def _forward(weights, biases, x):
    activations = []
    for w, b in zip(weights, biases):
        x = np.maximum(0.0, x @ np.asarray(w, dtype=np.float64).T + b)
        activations.append(x)
    return activations


def _check_mlp(weights, biases, calibration):
    """Float arrays of an MLP whose shapes chain, or ValueError/TypeError naming the array,
    its shape and the shape it must have."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise TypeError("weights must be a list of 2-D arrays, one (out, in) matrix per layer")
    if isinstance(biases, np.ndarray) or not isinstance(biases, (list, tuple)):
        raise TypeError("biases must be a list of 1-D arrays, one per layer")
    if not weights:
        raise ValueError("weights must hold at least one layer")
    if len(biases) != len(weights):
        raise ValueError(f"{len(weights)} weight matrices but {len(biases)} bias vectors; "
                         f"give one bias vector per layer")

    def floats(name, value, ndim):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a numeric array") from None
        if array.ndim != ndim:
            raise ValueError(f"{name} must be a {ndim}-D array, got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be finite (it holds NaN or infinity)")
        return array

    ws, bs = [], []
    for index, (w, b) in enumerate(zip(weights, biases)):
        w = floats(f"weights[{index}]", w, 2)
        b = floats(f"biases[{index}]", b, 1)
        if w.shape[0] < 1 or w.shape[1] < 1:
            raise ValueError(f"weights[{index}] must have at least one output and one input, "
                             f"got shape {w.shape}")
        if b.shape != (w.shape[0],):
            raise ValueError(f"biases[{index}] has shape {b.shape}, but weights[{index}] has "
                             f"{w.shape[0]} outputs; it must have shape ({w.shape[0]},)")
        if index and w.shape[1] != ws[-1].shape[0]:
            raise ValueError(f"weights[{index}] has shape {w.shape} (out, in), but "
                             f"weights[{index - 1}] has {ws[-1].shape[0]} outputs; layer shapes "
                             f"must chain: weights[{index}] must have {ws[-1].shape[0]} inputs")
        ws.append(w)
        bs.append(b)
    x = floats("calibration", calibration, 2)
    if x.shape[0] < 1 or x.shape[1] != ws[0].shape[1]:
        raise ValueError(f"calibration has shape {x.shape}; it must be [samples >= 1, "
                         f"{ws[0].shape[1]}] (rows of inputs to weights[0])")
    return ws, bs, x


def balance_thresholds(weights, biases, calibration, *, percentile=100.0):
    """``[lam_1, ..., lam_L]``: the ``percentile`` of each layer's ReLU activations over
    ``calibration`` (rows of inputs in ``[0, 1]``)."""
    weights, biases, calibration = _check_mlp(weights, biases, calibration)
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile = {percentile} is out of range; allowed range is (0, 100]")
    activations = _forward(weights, biases, np.asarray(calibration, dtype=np.float64))
    lams = [float(np.percentile(a, percentile)) for a in activations]
    for index, lam in enumerate(lams):
        if lam <= 0:
            raise ValueError(f"layer {index + 1} never activates on the calibration data; "
                             f"it cannot be converted")
    return lams


def convert_mlp(weights, biases, calibration, *, w_bits, density=1.0, lanes=None,
                percentile=100.0, v_bits=None, **neuron):
    """Convert a ReLU MLP (``weights[l]`` of shape ``(out, in)``, ``biases[l]``) to a
    :class:`Network` of integrate-and-fire neurons with subtract reset.

    Parameters
    ----------
    calibration : array ``[samples, inputs]``
        Inputs in ``[0, 1]`` for threshold balancing.
    w_bits : int or list
    density : float or list
        Fraction of weights kept (magnitude pruning before quantization).
    lanes : int, list or None
        Balance the pruning per PE lane (``None``: global pruning), per layer.
    percentile : float
        Of the activations, for the thresholds.
    v_bits, neuron :
        Passed to :func:`quantize_layer` (``leak``, ``reset``, ``timing``...; default: no leak,
        subtract reset, immediate timing — the rate-coding assumptions).
    """
    weights, biases, calibration = _check_mlp(weights, biases, calibration)
    count = len(weights)
    as_list = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * count  # noqa: E731
    lams = balance_thresholds(weights, biases, calibration, percentile=percentile)
    layers, previous = [], 1.0
    for w, b, lam, bits, keep, p, vb in zip(weights, biases, lams, as_list(w_bits),
                                            as_list(density), as_list(lanes), as_list(v_bits)):
        w = np.asarray(w, dtype=np.float64) * previous
        if keep < 1.0:
            w = prune(w, keep, lanes=None if p is None else min(p, w.shape[0]))
        layers.append(quantize_layer(w, w_bits=bits, threshold=lam, bias=b, v_bits=vb,
                                     **neuron))
        previous = lam
    return Network(layers)
