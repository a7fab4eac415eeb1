"""The report: results summarized over seeds and set beside the lecture's published table."""

import pandas as pd
import pytest

from nlpia_lstm.errors import DataError
from nlpia_lstm.report import compare, load_published, load_results, summarize, write_report

RESULTS = pd.DataFrame({
    "arch": ["birnn", "birnn", "lstm", "gru"], "units": [50, 50, 50, 50], "seed": [0, 1, 0, 0],
    "acc": [0.80, 0.82, 0.70, 0.75], "val_acc": [0.77, 0.79, 0.86, 0.8],
    "test_acc": [0.76, 0.78, 0.85, 0.79], "depth": [1, 1, 1, 2],
})


@pytest.fixture
def results_csv(tmp_path):
    path = tmp_path / "r.csv"
    RESULTS.to_csv(path, index=False)
    return path


def test_report_sets_results_beside_published_figures(results_csv, tmp_path):
    md, png = write_report(results_csv)
    assert (md, png) == (tmp_path / "r.md", tmp_path / "r.png")
    text = md.read_text(encoding="utf-8")
    assert "| BiRNN | 50 | 2 | 0.8156 | 0.8100 ± 0.0141 | -0.0056 |" in text
    assert "| LSTM | 50 | 1 | 0.7121 | 0.7000 |" in text
    assert "| gru_x2 | 50 | 1 |  |" in text
    assert "seeds 0, 1" in text and "![accuracy against units](r.png)" in text
    assert png.stat().st_size > 10_000
    md, png = write_report(results_csv, tmp_path / "elsewhere")
    assert md.parent == png.parent == tmp_path / "elsewhere" and png.is_file()


def test_summarize_gives_mean_sample_std_and_seeds_per_cell(results_csv):
    summary = summarize(load_results(results_csv)).set_index(["arch", "units"])
    birnn = summary.loc[("birnn", 50)]
    assert birnn["acc_mean"] == pytest.approx(0.81) and birnn["seeds"] == 2
    assert birnn["acc_std"] == pytest.approx(0.0141421, abs=1e-6)  # sample (n - 1) std
    assert birnn["test_acc_mean"] == pytest.approx(0.77)
    assert summary.loc[("lstm", 50), "seeds"] == 1 and pd.isna(summary.loc[("lstm", 50),
                                                                           "acc_std"])
    # The chapter's architectures first, in their order; a stacked model is its own row.
    assert list(summary.index.get_level_values("arch")) == ["birnn", "lstm", "gru_x2"]


def test_compare_joins_the_published_table():
    published = load_published()
    assert list(published.columns) == ["arch", "units", "acc", "val_acc"]
    assert len(published) == 8 and set(published["arch"]) == {"birnn", "lstm"}
    table = compare(summarize(RESULTS.drop(columns="depth")), published).set_index(
        ["arch", "units"])
    assert table.loc[("birnn", 50), "pub_acc"] == pytest.approx(0.8156)
    assert table.loc[("birnn", 50), "d_acc"] == pytest.approx(0.81 - 0.8156)
    assert table.loc[("lstm", 50), "d_val_acc"] == pytest.approx(0.86 - 0.8678)
    assert pd.isna(table.loc[("gru", 50), "pub_acc"]) and pd.isna(table.loc[("gru", 50),
                                                                           "d_acc"])


def test_unusable_results_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no results file"):
        load_results(tmp_path / "missing.csv")
    (tmp_path / "cols.csv").write_text("arch,units\nlstm,3\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        load_results(tmp_path / "cols.csv")
    (tmp_path / "empty.csv").write_text("arch,units,seed,acc,val_acc\n", encoding="utf-8")
    with pytest.raises(DataError, match="no result rows"):
        load_results(tmp_path / "empty.csv")
