"""Rules for the whole suite.

Under CI (the environment variable CI set, as every CI service sets it) a test that cannot run its
real component (a Slurm cluster, a file in ../shared/pretrained, an optional library) fails instead
of skipping: there the component is part of the set-up, and a green run that skipped it would hide
that the check never ran. The one exception: a test skipped with the reason "needs a CUDA device"
(`pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_REASON)`) on a machine without CUDA.
Elsewhere such tests skip, and `tools/test.sh` lists every skip with its reason (-rs).

Tests need nothing special for this: `pytest.skip(reason)`, `pytest.importorskip` and `skipif`
marks are all turned into failures under CI here.
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
