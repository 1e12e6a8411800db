"""Evaluation, the top floor below the entry points: scoring a saved model (`scoring`), the text table
(`report`), the RESULTS.md split table (`results_table`, from `collect`), comparisons and calibration.
The DCASE figures (asc.metrics) and pictures (asc.plots) sit below training and pruning, which use them."""
