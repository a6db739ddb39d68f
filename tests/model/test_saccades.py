"""The event-camera generator (spikefab.model.saccades): its path, its events computed by
hand on a one-pixel image, determinism and its bad input."""

import numpy as np
import pytest

from spikefab.model.saccades import saccade_events, saccade_path


def test_the_path_is_a_closed_triangle_of_three_saccades():
    path = saccade_path(7, amplitude=2.0)
    # 6 moves, 2 per saccade: (0,0) (1,.5) (2,1) (1,1.5) (0,2) (0,1) (0,0)
    assert path.tolist() == [[0, 0], [1, 0.5], [2, 1], [1, 1.5], [0, 2], [0, 1], [0, 0]]
    assert saccade_path(1).tolist() == [[0, 0]]
    assert len(saccade_path(25)) == 25 and saccade_path(25)[-1].tolist() == [0, 0]


def test_one_bright_pixel_moved_by_a_whole_pixel_gives_one_on_and_one_off_event():
    """A 3 × 3 image with a bright centre (canvas 9 × 9, the pixel at (4, 4)); with 4 steps
    the path is (0, 0), (2, 1), (0, 2), (0, 0): at step 1 the pixel is at (6, 5). Its log
    intensity jumps by log(1.05) - log(0.05) > 3 there (ON) and falls as much at (4, 4)
    (OFF); nothing else changes (whole-pixel moves need no interpolation)."""
    image = np.zeros((1, 3, 3))
    image[0, 1, 1] = 1.0
    events = saccade_events(image, steps=4, amplitude=2.0, jitter=0.0)
    assert events.shape == (1, 4, 2 * 9 * 9) and events.dtype == bool
    maps = events.reshape(1, 4, 2, 9, 9)
    assert not maps[0, 0].any()                               # the first frame is the reference
    assert list(zip(*np.nonzero(maps[0, 1, 0]))) == [(6, 5)]     # ON
    assert list(zip(*np.nonzero(maps[0, 1, 1]))) == [(4, 4)]     # OFF


def test_a_still_image_makes_no_event_and_noise_makes_some():
    images = np.random.default_rng(1).random((2, 5, 5))
    assert not saccade_events(images, steps=10, amplitude=0.0, jitter=0.0).any()
    noisy = saccade_events(images, steps=10, amplitude=0.0, jitter=0.0, noise=0.05, seed=3)
    assert 0.02 < noisy.mean() < 0.08


def test_the_same_seed_gives_the_same_events():
    images = np.random.default_rng(2).random((3, 28 * 28))         # flat square images
    a = saccade_events(images, steps=12, seed=7)
    assert a.shape == (3, 12, 2 * 34 * 34)
    assert np.array_equal(a, saccade_events(images, steps=12, seed=7))
    assert not np.array_equal(a, saccade_events(images, steps=12, seed=8))   # the jitter
    assert a[:, :, :34 * 34].any() and a[:, :, 34 * 34:].any()             # ON and OFF


@pytest.mark.parametrize("images, kwargs, error, message", [
    (np.full((1, 4, 4), 2.0), {}, ValueError, r"intensities in \[0, 1\]"),
    (np.zeros((1, 10)), {}, ValueError, "not square"),
    (np.zeros((1, 4, 4)), {"steps": 0}, ValueError, r"steps = 0 is out of range"),
    (np.zeros((1, 4, 4)), {"threshold": 0}, ValueError, "threshold"),
    (np.zeros((1, 4, 4)), {"noise": 1.5}, ValueError, "noise"),
])
def test_bad_input_is_named(images, kwargs, error, message):
    with pytest.raises(error, match=message):
        saccade_events(images, **kwargs)
