"""Rules for the whole suite.

Under CI (the environment variable CI set, as every CI service sets it) a test that cannot run its
real component (a Slurm cluster, a file in ../shared/pretrained, an optional library) fails instead
of skipping: there the component is part of the set-up, and a green run that skipped it would hide
that the check never ran. The one exception: a test skipped with the reason "needs a CUDA device"
(`pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_REASON)`) on a machine without CUDA.
Elsewhere such tests skip, and `tools/test.sh` lists every skip with its reason (-rs).

Tests need nothing special for this: `pytest.skip(reason)`, `pytest.importorskip` and `skipif`
marks are all turned into failures under CI here.

tools/test.sh runs the suite on two pytest-xdist workers (--dist loadfile); SHARED_RUN_FILES and the
scheduler below keep the tests that share one tiny recipe run on one worker.
"""
from __future__ import annotations

import os

import pytest

CUDA_REASON = "needs a CUDA device"
pytest_plugins = ["pytester"]     # tests/test_ci_skips.py runs the rules above on a small suite


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module of small models: several threads on a shared 2-core machine
    oversubscribe it (use: `pytestmark = pytest.mark.usefixtures("one_torch_thread")`)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def in_ci() -> bool:
    """True where the environment says this is a CI run (CI=true, CI=1, ...; not CI=false or CI=0)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _allowed_skip(reason: str) -> bool:
    return reason == CUDA_REASON and not _cuda_available()


def _fail_skip_in_ci(report, what: str) -> None:
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if _allowed_skip(reason):
        return
    report.outcome = "failed"
    report.longrepr = (f"CI is set, so this {what} fails instead of skipping (only '{CUDA_REASON}' may "
                       f"skip on a machine without CUDA): {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result(), "test")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result(), "module")


# The files whose tests read the session's finished tiny recipe run (tests/recipe/conftest.py). Some add
# to that run or change it (tests/recipe/test_run_sh.py's last test), in their usual order, so under
# pytest-xdist they are one unit of work: two workers must not build it twice or change it under each other.
SHARED_RUN = "finished_recipe"
SHARED_RUN_FILES = ("tests/recipe/test_claims.py", "tests/recipe/test_dcase2025_recipe.py",
                    "tests/recipe/test_recipe_killed.py", "tests/recipe/test_run_sh.py")


def _test_file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """The shared run's files first: theirs is the suite's longest unit of work, so one worker starts it at
    once and the other takes the remaining files meanwhile. A new file that uses the shared run must be
    named in SHARED_RUN_FILES, or it could run on the other worker at the same time."""
    strays = sorted({_test_file(item.nodeid) for item in items
                     if SHARED_RUN in getattr(item, "fixturenames", ())} - set(SHARED_RUN_FILES))
    if strays:
        pytest.exit(f"{', '.join(strays)}: uses the fixture {SHARED_RUN}; name it in SHARED_RUN_FILES "
                    f"(tests/conftest.py) so that its tests share that run's worker", pytest.ExitCode.USAGE_ERROR)
    items.sort(key=lambda item: _test_file(item.nodeid) not in SHARED_RUN_FILES)   # stable: order kept within


@pytest.hookimpl(optionalhook=True)     # a pytest-xdist hook: without xdist it is never called
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile (tools/test.sh), except that the shared run's files are one unit together."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedRunInOneUnit(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = _test_file(nodeid)
            return SHARED_RUN if file in SHARED_RUN_FILES else file

    return SharedRunInOneUnit(config, log)
