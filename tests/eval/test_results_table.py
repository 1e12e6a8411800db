import pytest

from asc.eval.results_table import results_markdown, split_number


def _rec(system, split, acc, params=61148, macs=29419156):
    return {"system": system, "split": split, "macro_accuracy": acc, "params": params, "macs": macs}


BASELINE = [_rec("baseline", s, a) for s, a in zip((5, 10, 25, 50, 100), (.4240, .4529, .5029, .5319, .5699))]


def _table_rows(text):
    return [line for line in text.splitlines() if line.startswith("|")]


def test_layout_row_per_system_column_per_split_mean_is_the_ranking_score():
    text = results_markdown(BASELINE + [_rec("rep-mobile kd", "split100", .61, 60000, 28_000_000)],
                            environment={"torch": "2.13.0"})
    assert text.startswith("# RESULTS\n")
    assert "## Environments\n- torch: `2.13.0`\n" in text
    header, rule, base, kd = _table_rows(text)
    assert header == "| system | params | MACs | 5 % | 10 % | 25 % | 50 % | 100 % | mean (ranking score) |"
    assert rule == "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    # the published baseline: mean of the five splits = 49.63
    assert base == "| baseline | 61,148 | 29.42 M | 42.40 | 45.29 | 50.29 | 53.19 | 56.99 | 49.63 |"
    assert kd == "| rep-mobile kd | 60,000 | 28.00 M | – | – | – | – | 61.00 | 61.00* |"
    assert "\\* mean over the splits present only" in text


def test_seeds_are_averaged_with_spread_and_complexity_ranges():
    records = [_rec("pruned", 5, .50, 60000), _rec("pruned", 5, .52, 61000), _rec("pruned", 10, .55, 61000)]
    (row,) = _table_rows(results_markdown(records, splits=(5, 10)))[2:]
    assert row == "| pruned | 60,000–61,000 | 29.42 M | 51.00 ± 1.41 | 55.00 (n=1) | 53.00 |"
    assert "± standard deviation over runs" in results_markdown(records, splits=(5, 10))


def test_system_order_missing_complexity_and_empty_rows():
    records = [_rec("b", 5, .5, None, None), _rec("a", 5, .6)]
    rows = _table_rows(results_markdown(records, splits=(5,), systems=["a", "b", "c"]))[2:]
    assert rows == ["| a | 61,148 | 29.42 M | 60.00 | 60.00 |",
                    "| b | – | – | 50.00 | 50.00 |",
                    "| c | – | – | – | – |"]


def test_bad_records_are_refused():
    with pytest.raises(ValueError, match="fraction"):
        results_markdown([_rec("a", 5, 56.99)])
    with pytest.raises(ValueError, match="split 7"):
        results_markdown([_rec("a", 7, .5)])
    with pytest.raises(ValueError, match="training split"):
        split_number("test")
    assert [split_number(s) for s in (5, "10", "split25", "train_split50")] == [5, 10, 25, 50]
