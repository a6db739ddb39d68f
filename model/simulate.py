"""The golden model: exact integer LIF simulation of a :class:`Network` (docs/design.md §2).

Batched over samples and vectorized over neurons. The input current ``W s + b`` is an
exact integer sum; it is computed with a floating-point matrix product (BLAS) only when
every partial sum is provably representable exactly (``|sum| < 2**24`` for float32,
``< 2**53`` for float64), which holds because spikes are 0/1 and the bound is computed
from the weights. Otherwise it falls back to an int64 product.
"""

from dataclasses import dataclass

import numpy as np

from .early_exit import exit_fires, exit_rule
from .network import Layer, Network, signed_range

__all__ = ["SimResult", "simulate", "layer_step", "check_inputs", "check_spike_trains",
           "check_direct_inputs"]


def _batched(inputs, n_inputs, name, unit, hint=""):
    """``inputs`` as an array ``[B, T, N0]`` and whether it was batched (``[T, N0]`` gets a
    batch axis), or ``ValueError`` naming ``name``'s shape or its ``unit`` per step."""
    array = np.asarray(inputs)
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape [T, {n_inputs}] or [B, T, {n_inputs}], "
                         f"got {array.shape}{hint}")
    batched = array.ndim == 3
    if not batched:
        array = array[None]
    if array.shape[2] != n_inputs:
        raise ValueError(f"{name} have {array.shape[2]} {unit} per step, the network "
                         f"expects {n_inputs}")
    return array, batched


def check_inputs(network, inputs):
    """The inputs of ``network`` checked: its first layer's direct values
    (:func:`check_direct_inputs`) or binary spike trains (:func:`check_spike_trains`).
    Returns ``(array [B, T, N0], batched)``."""
    if getattr(network[0], "direct", False):
        return check_direct_inputs(inputs, network[0])
    return check_spike_trains(inputs, network.n_inputs)


def check_spike_trains(spikes, n_inputs):
    """Validate binary spike trains ``[T, N0]`` or ``[B, T, N0]``; return bool ``[B, T, N0]``
    and whether the input was batched."""
    array, batched = _batched(spikes, n_inputs, "spikes", "inputs")
    if array.shape[0] < 1:
        raise ValueError(f"spikes hold a batch of 0 samples; give at least one (shape "
                         f"[B, T, {n_inputs}] with B >= 1)")
    if array.shape[1] < 1:
        raise ValueError("spikes must hold at least one timestep (T >= 1)")
    if array.dtype != np.bool_:
        if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
            raise TypeError(f"spikes must be a binary array, not dtype {array.dtype}")
        if array.size and not np.all((array == 0) | (array == 1)):
            raise ValueError("spikes must be binary: every value 0 or 1 (use an encoder "
                             "such as encode_rate for intensities)")
        array = array.astype(np.bool_)
    return array, batched


def check_direct_inputs(values, layer):
    """Validate the inputs of a direct layer (docs/design.md §13): unsigned integers ``[T, N0]``
    or ``[B, T, N0]`` whose sum over the steps of a sample is at most ``x_max = 2**x_bits - 1``
    for every input (``encode_direct`` puts the intensities at step 0). Return int64
    ``[B, T, N0]`` and whether the input was batched."""
    array, batched = _batched(values, layer.fan_in, "direct inputs", "values",
                              " (spikefab.model.encode_direct makes them from intensities)")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"direct inputs must hold at least one sample and one timestep, got "
                         f"shape {array.shape}")
    if array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.array_equal(
                array, np.round(array)):
            raise TypeError(f"direct inputs must be integers, not {array.dtype} values (use "
                            f"to_intensity for floats)")
    array = array.astype(np.int64)
    x_max = (1 << layer.x_bits) - 1
    if array.size and array.min() < 0:
        raise ValueError(f"direct inputs hold {int(array.min())}; values are unsigned, in "
                         f"[0, {x_max}] (x_bits = {layer.x_bits})")
    totals = array.sum(axis=1)
    if totals.size and totals.max() > x_max:
        raise ValueError(f"direct inputs give an input {int(totals.max())} over one sample; "
                         f"each input's values over the steps of a sample sum to at most "
                         f"{x_max} (x_bits = {layer.x_bits})")
    return array, batched


def _current_dtype(layer):
    bound = layer.current_bound()
    if bound < 2 ** 24:
        return np.float32
    if bound < 2 ** 53:
        return np.float64
    return np.int64


def layer_step(layer, v, r, spikes_in, weights_t=None, held=None):
    """Advance one layer by one timestep.

    Returns ``(v, s)``: the new membranes (int64) and the spikes (bool) of this step.
    For a direct layer (``layer.direct``) ``spikes_in`` are this step's input values and
    ``held`` (int64 ``[B, N]``, required) the sum ``W x`` of the earlier steps' values; it is
    updated in place with this step's.

    Parameters
    ----------
    layer : Layer
    v : int64 array ``[B, N]``
        Membranes before the step.
    r : bool array ``[B, N]``
        This layer's spikes of the previous step (used by ``delayed`` timing).
    spikes_in : bool array ``[B, fan_in]``
    weights_t : array ``[fan_in, N]``, optional
        ``layer.weights.T`` in the dtype used for the current (a cache).
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a spikefab.model.Layer, not {type(layer).__name__}")
    if getattr(layer, "direct", False):
        if held is None:
            raise ValueError("a direct layer's step needs held, the sum W x of its earlier "
                             "input values")
        if spikes_in.any():
            held += spikes_in.astype(np.int64) @ layer.weights.T
        current = (held >> layer.x_shift) + layer.bias
    elif hasattr(layer, "input_current"):  # a ConvLayer: the convolution, not its unrolled matrix
        current = layer.input_current(spikes_in)
    else:
        if weights_t is None:
            weights_t = layer.weights.T.astype(_current_dtype(layer))
        current = (spikes_in.astype(weights_t.dtype) @ weights_t).astype(np.int64) + layer.bias
    lo, hi = signed_range(layer.v_bits)
    theta = layer.theta
    if layer.timing == "immediate":
        v = np.clip(layer.leak_fn(v) + current, lo, hi)
        s = v > theta
        if layer.reset == "subtract":
            v = np.where(s, v - theta, v)
        else:
            v = np.where(s, 0, v)
    else:
        if layer.reset == "subtract":
            v = np.clip(layer.leak_fn(v) + current - r * theta, lo, hi)
        else:
            v = np.clip(np.where(r, 0, layer.leak_fn(v)) + current, lo, hi)
        s = v > theta
    return v, s


@dataclass(frozen=True, eq=False)
class SimResult:
    """What :func:`simulate` returns. Arrays have a leading batch axis ``B`` unless the
    input spikes were a single ``[T, N0]`` train.

    Members
    -------
    inputs : bool array ``[B, T, N0]``
        The input spike trains; for a network with a direct first layer, its input values
        (int64, :func:`check_direct_inputs`).
    spikes : list of bool arrays ``[B, T, N_l]``
        Every layer's output spikes per step.
    membranes : list of int64 arrays ``[B, N_l]``
        Every layer's final membranes (after the last step, reset applied as the timing
        rule says).
    counts : int64 array ``[B, N_L]``
        Output spike counts over the ``T`` steps.
    predicted : int64 array ``[B]``
        Arg-max of ``counts``, lowest index on ties.
    traces : list of int64 arrays ``[B, T, N_l]`` or None
        Membranes after every step, when ``record_membranes=True``.
    ran : int64 array ``[B]``
        The steps each sample ran: ``T``, or fewer with an early ``exit``.
    exit : :class:`~spikefab.model.early_exit.ExitRule` or None
        The early-exit rule of the run.
    """

    inputs: np.ndarray
    spikes: list
    membranes: list
    counts: np.ndarray
    predicted: np.ndarray
    traces: list | None = None
    ran: np.ndarray = None
    exit: object = None

    @property
    def steps(self):
        return self.inputs.shape[-2]

    def layer_inputs(self, index):
        """Input spikes of layer ``index`` (the network input for 0: a direct layer's values)."""
        return self.inputs if index == 0 else self.spikes[index - 1]

    def layer_events(self, index):
        """The input events of layer ``index`` as a bool array: its input spikes, and for a
        direct first layer its non-zero input values — one event each, whatever the value
        (docs/design.md §13). What the cycle model and the event counts read."""
        inputs = np.asarray(self.layer_inputs(index))
        return inputs if inputs.dtype == np.bool_ else inputs != 0


def simulate(network, spikes, *, record_membranes=False, exit=None):
    """Run the golden model.

    Parameters
    ----------
    network : Network
    spikes : binary array ``[T, N0]`` or ``[B, T, N0]``
        Input spike trains (see :mod:`spikefab.model.encoders` to make them); for a network
        with a direct first layer, its input values (:func:`check_direct_inputs`; made by
        ``encode_direct``).
    record_membranes : bool
        Also return every layer's membranes after every step (``SimResult.traces``).
    exit : None, ``"exact"`` or ``("margin", m)``
        Early exit (:mod:`spikefab.model.early_exit`, docs/design.md §2): a sample ends
        after the step at which the rule holds; its later steps do not happen (no spikes,
        the membranes and traces stay as they were at the exit). ``SimResult.ran`` holds
        the steps each sample ran.

    Every sample starts from ``v = 0`` and ``r = 0``.

    >>> import numpy as np
    >>> from spikefab.model import Layer, Network, simulate
    >>> net = Network([Layer(np.array([[3, 1], [1, 3]]), theta=4, w_bits=4, v_bits=8)])
    >>> result = simulate(net, np.array([[1, 0], [1, 0], [0, 1]]))
    >>> result.spikes[0].astype(int).tolist()   # v: [3,1] -> [6,2] fires 0 -> [3,5] fires 1
    [[0, 0], [1, 0], [0, 1]]
    >>> result.counts.tolist(), int(result.predicted)   # a tie goes to the lowest index
    ([1, 1], 0)
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be a spikefab.model.Network, not {type(network).__name__}")
    rule = exit_rule(exit)
    direct = getattr(network[0], "direct", False)
    trains, batched = check_inputs(network, spikes)
    batch, steps, _ = trains.shape
    ran = np.full(batch, steps, dtype=np.int64)
    running = np.ones(batch, dtype=np.bool_)
    counts = np.zeros((batch, network.n_outputs), dtype=np.int64)
    weights_t = [None if hasattr(layer, "input_current") or getattr(layer, "direct", False)
                 else layer.weights.T.astype(_current_dtype(layer)) for layer in network]
    held = np.zeros((batch, network[0].neurons), dtype=np.int64) if direct else None
    v = [np.zeros((batch, layer.neurons), dtype=np.int64) for layer in network]
    r = [np.zeros((batch, layer.neurons), dtype=np.bool_) for layer in network]
    out = [np.zeros((batch, steps, layer.neurons), dtype=np.bool_) for layer in network]
    traces = ([np.zeros((batch, steps, layer.neurons), dtype=np.int64) for layer in network]
              if record_membranes else None)
    for t in range(steps):
        s_in = trains[:, t]
        for index, layer in enumerate(network):
            v_new, s = layer_step(layer, v[index], r[index], s_in, weights_t[index],
                                  held if index == 0 else None)
            if rule is not None:                  # an exited sample's steps do not happen
                v_new = np.where(running[:, None], v_new, v[index])
                s = s & running[:, None]
            v[index] = v_new
            r[index] = s
            out[index][:, t] = s
            if traces is not None:
                traces[index][:, t] = v[index]
            s_in = s
        if rule is not None:
            counts += out[-1][:, t]
            done = running & exit_fires(rule, counts, t, steps)
            ran[done] = t + 1
            running &= ~done
            if not running.any():
                if traces is not None:
                    for trace, state in zip(traces, v):
                        trace[:, t + 1:] = state[:, None]
                break
    if rule is None:
        counts = out[-1].sum(axis=1, dtype=np.int64)
    predicted = np.argmax(counts, axis=1).astype(np.int64)
    if not batched:
        unbatch = lambda arrays: [a[0] for a in arrays]  # noqa: E731
        return SimResult(trains[0], unbatch(out), unbatch(v), counts[0], predicted[0],
                         unbatch(traces) if traces is not None else None, ran[0], rule)
    return SimResult(trains, out, v, counts, predicted, traces, ran, rule)
