"""What the studies share for a person to read (:mod:`spikefab.studies.report`): aligned
tables, percentages and the spike raster's figure (checked on the figure object, not its
pixels)."""

import numpy as np
import pytest

from spikefab.studies.report import align_tables, percent, pyplot, raster_figure, table

pytest.importorskip("matplotlib")


def test_table_pads_every_column_and_aligns_numbers_right():
    text = table(["weight format", "memory"], [("dense", "38,912 bits"), ("csc", "904 bits")])
    assert text.split("\n") == [
        "| weight format |      memory |",
        "|---------------|------------:|",
        "| dense         | 38,912 bits |",
        "| csc           |    904 bits |"]


def test_align_tables_pads_the_tables_of_a_text_and_keeps_the_rest():
    text = "# title\n\n| a | bb |\n|---|---:|\n| 1 | 2222 |\n\nnot a table | here"
    assert align_tables(text).split("\n") == [
        "# title", "", "| a |   bb |", "|---|-----:|", "| 1 | 2222 |", "",
        "not a table | here"]


def test_percent_reads_as_a_person_writes_it():
    assert percent(11 / 12) == "91.7 %" and percent(0.9385, 2) == "93.85 %"
    assert percent(0.5, None) == "50 %" and percent(0.3, None) == "30 %"


@pytest.mark.parametrize("predicted, label", [(3, 3), (2, 7)])
def test_raster_names_the_true_label_and_the_prediction(predicted, label):
    rng = np.random.default_rng(0)
    layers = [rng.random((2, 12, n)) < 0.2 for n in (64, 128, 10)]
    fig = raster_figure(["input", "layer 1", "layer 2"], layers, predicted=predicted,
                        label=label)
    try:
        axes = fig.axes[:3]
        title = axes[0].get_title()
        assert f"true label {label}" in title and f"predicted {predicted}" in title
        for ax in axes:
            assert "neuron index" in ax.get_ylabel()
            assert all(float(t).is_integer() for t in ax.get_yticks())
        out = axes[-1]
        assert list(out.get_yticks()) == list(range(10))           # every output row
        assert all(float(t).is_integer() for t in out.get_xticks())
        assert out.get_xlabel() == "timestep"
        # tall enough for 10 readable rows: at least 0.14 inch (10 points) per row
        fig.tight_layout()                                # as save_figure lays it out
        height = out.get_position().height * fig.get_figheight()
        assert height / 10 >= 0.14
        marked = [text.get_text() for text in out.get_legend().get_texts()]
        assert any(f"true label {label}" in text for text in marked)
        assert (any(f"predicted {predicted}" in text for text in marked)
                or predicted == label)
    finally:
        pyplot().close(fig)
