"""Evaluation: DCASE figures (`metrics`), the text table (`report`), pictures (`plots`) and the
RESULTS.md split table (`results_table`). Import the submodule you need; `plots` loads matplotlib."""
