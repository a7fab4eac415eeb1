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
    written = write_report(results_csv)
    assert written == {"report": tmp_path / "r.md", "plot": tmp_path / "r.png"}
    md, png = written["report"], written["plot"]
    text = md.read_text(encoding="utf-8")
    assert "| BiRNN | 50 | 2 | 0.8156 | 0.8100 ± 0.0141 | -0.0056 |" in text
    assert "| LSTM | 50 | 1 | 0.7121 | 0.7000 |" in text
    assert "| gru_x2 | 50 | 1 |  |" in text
    assert "seeds 0, 1" in text and "![accuracy against units](r.png)" in text
    assert png.stat().st_size > 10_000
    written = write_report(results_csv, tmp_path / "elsewhere")
    assert {p.parent for p in written.values()} == {tmp_path / "elsewhere"}
    assert written["plot"].is_file()
    assert "test AUC" not in text  # a CSV without the metrics has no columns for them


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


def test_test_metrics_curves_and_confusion_matrix(tmp_path):
    metrics = RESULTS.assign(
        test_auc=[0.84, 0.86, 0.93, 0.88], test_f1=[0.75, 0.77, 0.86, 0.8],
        test_precision=[0.8, 0.8, 0.84, 0.81], test_recall=[0.7, 0.74, 0.88, 0.79],
        test_tp=[70, 74, 88, 79], test_fp=[18, 18, 17, 19], test_tn=[82, 82, 83, 81],
        test_fn=[30, 26, 12, 21])
    metrics.to_csv(tmp_path / "m.csv", index=False)
    history = pd.DataFrame([
        {"arch": r.arch, "units": r.units, "seed": r.seed, "depth": r.depth, "epoch": epoch,
         "acc": r.acc - 0.1 / epoch, "val_acc": r.val_acc, "loss": 0.5 / epoch,
         "val_loss": 0.6 / epoch, "seconds": 1.0}
        for r in RESULTS.itertuples() for epoch in (1, 2)])
    history.to_csv(tmp_path / "m.history.csv", index=False)
    written = write_report(tmp_path / "m.csv")
    assert written == {"report": tmp_path / "m.md", "plot": tmp_path / "m.png",
                       "curves": tmp_path / "m_curves.png",
                       "confusion": tmp_path / "m_confusion.png"}
    assert all(path.stat().st_size > 10_000 for path in written.values() if path.suffix == ".png")
    text = written["report"].read_text(encoding="utf-8")
    assert ("| test_acc | test AUC | test F1 | test precision | test recall |" in text)
    assert "| 0.7700 ± 0.0141 | 0.8500 ± 0.0141 | 0.7600 ± 0.0141 | 0.8000 ± 0.0000 | " in text
    assert "![learning curves](m_curves.png)" in text
    assert "![test confusion matrix](m_confusion.png)" in text


def test_an_upgraded_old_csv_with_empty_new_columns_still_reports(tmp_path):
    from nlpia_lstm.results import COLUMNS

    old = RESULTS.assign(depth=1).reindex(columns=COLUMNS)  # new columns there, all empty
    old.to_csv(tmp_path / "old.csv", index=False)
    written = write_report(tmp_path / "old.csv")
    assert set(written) == {"report", "plot"}
    text = written["report"].read_text(encoding="utf-8")
    assert "| LSTM | 50 | 1 | 0.7121 | 0.7000 |" in text and "test AUC" not in text
    assert "test_acc |" in text
