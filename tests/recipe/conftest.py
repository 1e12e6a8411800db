"""The recipe run every recipe test reads: ./run.sh stages 0-6 at tiny size (test_run_sh.TINY_ARGS), once
per session, so that test_run_sh.py and test_recipe_killed.py share its corpus, features and results."""
from __future__ import annotations

import pytest

from test_run_sh import recipe_copy, run_recipe


@pytest.fixture(scope="session")
def finished_recipe(tmp_path_factory):
    recipe = recipe_copy(tmp_path_factory.mktemp("recipe"))
    result = run_recipe(recipe)
    assert result.returncode == 0, f"run.sh failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return recipe
