"""The built-in digits classifier: ``make demo``'s network, and the digits case of the
design-space exploration and of gate-level simulation.

Made from scikit-learn's digits (:func:`spikefab.model.load_dataset`, images in [0, 1]):

1. :func:`train_mlp` — a scikit-learn ``MLPClassifier`` (inputs-``hidden``-classes, ReLU,
   ``alpha=1e-3``, ``max_iter=300``, ``random_state=seed``); then magnitude pruning to
   ``density`` (:func:`spikefab.model.prune`, the hidden layer balanced over ``lanes`` PE
   lanes) and ``epochs`` epochs of fine-tuning with scikit-learn's own ``partial_fit``, the
   pruning mask re-applied after every epoch;
2. :func:`mlp_network` — :func:`spikefab.model.convert_mlp`: threshold balancing at the
   maximum ReLU activation on the training images, integrate-and-fire neurons with subtract
   reset, ``w_bits``-bit weights at ``density``.

:data:`DIGITS` holds the demo's defaults; :func:`digits_network` does both steps with them.
scikit-learn belongs to the ``demo`` extra and is imported only inside these functions.
"""

import warnings

import numpy as np

from .checks import check_int, check_number, float_array, need
from .convert import convert_mlp
from .datasets import load_dataset
from .quantize import prune

__all__ = ["DIGITS", "digits_network", "mlp_network", "train_mlp"]

#: The digits demo's network and run: 64-128-10, 4-bit weights, 50 % of them kept, T = 32,
#: P = 4 lanes, csc weights, rate code.
DIGITS = {"hidden": 128, "w_bits": 4, "density": 0.5, "steps": 32, "lanes": 4,
          "format": "csc", "encoder": "rate"}


def train_mlp(x, y, *, hidden, density, lanes=None, epochs=60, seed=0):
    """Train the float MLP on images ``x`` in [0, 1] and labels ``y``, prune it to
    ``density`` and fine-tune under the mask. Returns ``(mlp, dense_model)``: the classifier
    and the weights and biases before pruning (``(coefs, intercepts)``, scikit-learn's
    ``(in, out)`` orientation)."""
    hidden = check_int("hidden", hidden, 1, 1 << 16)
    density = check_number("density", density, 0.0, 1.0, low_open=True)
    epochs = check_int("epochs", epochs, 0, 1 << 20)
    x = float_array("x", x, ndim=2)
    y = np.asarray(y)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold one integer label per image of x ({len(x)}), not "
                         f"{y.dtype} {y.shape}")
    exceptions = need("sklearn.exceptions", "training the digits MLP", extra="demo")
    networks = need("sklearn.neural_network", "training the digits MLP", extra="demo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        mlp = networks.MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu",
                                     max_iter=300, alpha=1e-3, random_state=seed)
        mlp.fit(x, y)
        dense_model = [c.copy() for c in mlp.coefs_], [b.copy() for b in mlp.intercepts_]
        if density < 1.0:
            masks = [prune(w.T, density, lanes=p).T != 0
                     for w, p in zip(mlp.coefs_, (lanes, None))]
            for _ in range(epochs):
                for k, mask in enumerate(masks):
                    mlp.coefs_[k] *= mask
                mlp.partial_fit(x, y)
            for k, mask in enumerate(masks):
                mlp.coefs_[k] *= mask
    return mlp, dense_model


def mlp_network(mlp, x_train, *, w_bits, density, lanes=None):
    """The quantized SNN of a trained ``mlp`` (:func:`convert_mlp`, calibrated on
    ``x_train``), ``density`` in every layer, the hidden layer balanced over ``lanes``."""
    if not hasattr(mlp, "coefs_") or not hasattr(mlp, "intercepts_"):
        raise TypeError(f"mlp must be a trained scikit-learn MLPClassifier (with coefs_ and "
                        f"intercepts_), not {type(mlp).__name__}")
    weights = [w.T for w in mlp.coefs_]
    return convert_mlp(weights, list(mlp.intercepts_), x_train, w_bits=w_bits,
                       density=[density] * len(weights),
                       lanes=[lanes] + [None] * (len(weights) - 1))


def digits_network(*, hidden=DIGITS["hidden"], w_bits=DIGITS["w_bits"],
                   density=DIGITS["density"], lanes=DIGITS["lanes"], seed=0):
    """``(network, split, mlp)``: the digits demo's network for these settings, the data set
    split it was trained on (:class:`~spikefab.model.Split`) and the float classifier."""
    split = load_dataset("digits", seed=seed)
    mlp, _ = train_mlp(split.x_train, split.y_train, hidden=hidden, density=density,
                       lanes=lanes, seed=seed)
    return mlp_network(mlp, split.x_train, w_bits=w_bits, density=density, lanes=lanes), \
        split, mlp
