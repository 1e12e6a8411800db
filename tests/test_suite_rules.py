"""Rules of the suite itself: under CI a skipped test fails (tests/conftest.py; except a CUDA test on a
CPU machine); tools/test.sh lists every skip with its reason; every subprocess a test starts has a
timeout (one hang would stall CI for hours); hard dependencies are imported, never importorskip'd."""
from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

SKIPPING = '''
import pytest
import torch

def test_missing_cluster():
    pytest.skip("Slurm is not installed")

def test_missing_library():
    pytest.importorskip("no_such_module_asc")

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_the_gpu():
    assert torch.cuda.is_available()

@pytest.mark.skipif(True, reason="needs a CUDA device and more")
def test_other_reason_that_mentions_cuda():
    pass

def test_that_runs():
    assert 1 + 1 == 2
'''
SKIPPED_MODULE = '''
import pytest
pytest.skip("pretrained file not found", allow_module_level=True)

def test_never_collected():
    pass
'''


@pytest.fixture
def small_suite(pytester):
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_skipping=SKIPPING, test_skipped_module=SKIPPED_MODULE)
    return pytester


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_skip_fails(small_suite, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    result = small_suite.runpytest("-p", "no:cacheprovider", "-rs", "test_skipping.py")
    gpu = torch.cuda.is_available()
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 3, result.stdout.str()   # setup: error
    assert outcomes.get("passed") == 1 + gpu and outcomes.get("skipped", 0) == 1 - gpu
    text = result.stdout.str()
    assert "fails instead of skipping" in text and "Slurm is not installed" in text
    # a module skipped as a whole is a collection error, which stops the run: loud, as it should be
    result = small_suite.runpytest("-p", "no:cacheprovider", "test_skipped_module.py")
    assert result.parseoutcomes().get("errors") == 1 and result.ret != 0
    assert "pretrained file not found" in result.stdout.str()


@pytest.mark.parametrize("ci", [None, "false", "0"])
def test_elsewhere_a_skip_is_a_skip(small_suite, monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    result = small_suite.runpytest("-p", "no:cacheprovider", "-rs")
    gpu = torch.cuda.is_available()
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped") == 5 - gpu and outcomes.get("passed") == 1 + gpu, result.stdout.str()
    assert "failed" not in outcomes and "errors" not in outcomes


def test_tools_test_sh_lists_skips_with_their_reasons_and_the_slowest_tests(tmp_path):
    test_file = tmp_path / "test_one_skip.py"
    test_file.write_text("import pytest\n\ndef test_x():\n    pytest.skip('the reason it skipped')\n")
    done = subprocess.run([str(ROOT / "tools" / "test.sh"), str(test_file), "-p", "no:cacheprovider"],
                          capture_output=True, text=True, timeout=120, env={**__import__("os").environ, "CI": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SKIPPED [1]" in done.stdout and "the reason it skipped" in done.stdout
    assert "1 skipped" in done.stdout and " passed" not in done.stdout   # only the given path ran
    assert "slowest 25 durations" in done.stdout                       # CI's log shows where the time goes


def _test_sources() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for path in sorted((ROOT / "tests").rglob("*.py"))}


def _subprocess_call(node: ast.AST, names: tuple[str, ...]) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "subprocess")


def _has_timeout(call: ast.Call) -> bool:
    return any(k.arg == "timeout" for k in call.keywords)


def test_every_subprocess_has_a_timeout():
    """subprocess.run/call/check_*: a timeout argument; Popen: every wait/communicate in its function."""
    missing = []
    for path, tree in _test_sources().items():
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for node in ast.walk(tree):
            if _subprocess_call(node, ("run", "call", "check_call", "check_output")) and not _has_timeout(node):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        for function in functions:
            if not any(_subprocess_call(n, ("Popen",)) for n in ast.walk(function)):
                continue
            waits = [n for n in ast.walk(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                     and n.func.attr in ("wait", "communicate")]
            if not waits or not all(_has_timeout(w) for w in waits):
                missing.append(f"{path.relative_to(ROOT)}:{function.lineno} ({function.name}: Popen)")
    assert missing == [], f"subprocesses without a timeout: {missing}"


def test_hard_dependencies_are_imported_plainly():
    """A package setup.py requires is imported; importorskip would let its tests vanish unnoticed."""
    setup = (ROOT / "setup.py").read_text()
    found = []
    for path, tree in _test_sources().items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "importorskip" and node.args and isinstance(node.args[0], ast.Constant)):
                module = node.args[0].value
                if module.replace("_", "-") in setup or module in setup:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert found == [], f"importorskip of a required package: {found}"


def test_test_files_have_unique_names():
    """pytest's default (prepend) import mode imports every test file as a top-level module named after
    the file, so two tests/*/test_x.py stop the whole collection; this names them before CI does."""
    seen: dict[str, Path] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        assert path.name not in seen, f"{path.relative_to(ROOT)} and {seen[path.name].relative_to(ROOT)} share a name"
        seen[path.name] = path


SHARED_RUN_FIXTURES = '''

@pytest.fixture(scope="session")
def finished_recipe():
    with open("events.txt", "a") as log:
        log.write(f"built {os.environ.get('PYTEST_XDIST_WORKER', '-')}\\n")
    return "run"


@pytest.fixture(autouse=True)
def _where(request):
    with open("events.txt", "a") as log:
        log.write(f"{os.environ.get('PYTEST_XDIST_WORKER', '-')} {request.node.nodeid}\\n")
'''
USES_RUN = "def test_1(finished_recipe):\n    pass\n\n\ndef test_2(finished_recipe):\n    pass\n"
OTHER = "import time\n\n\ndef test_1():\n    time.sleep(0.2)\n"


def _two_worker_flags() -> list[str]:
    """tools/test.sh's xdist flags, as it passes them."""
    line = next(line for line in (ROOT / "tools" / "test.sh").read_text().splitlines()
                if line.startswith("parallel=(); "))
    return line.split("parallel=(", 2)[2].rstrip(")").replace('"$workers"', "2").split()


def _suite_with_shared_run(pytester, extra_files: dict[str, str]):
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text() + SHARED_RUN_FIXTURES)   # it imports os
    files = {"tests/recipe/test_run_sh.py": USES_RUN, "tests/recipe/test_claims.py": USES_RUN,
             **{f"tests/other/test_other{i}.py": OTHER for i in range(4)}, **extra_files}
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pytester


def test_under_two_workers_the_shared_recipe_run_is_built_once_and_its_files_share_one_worker(pytester):
    suite = _suite_with_shared_run(pytester, {})
    flags = _two_worker_flags()
    assert flags == ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]
    result = suite.runpytest_subprocess(*flags, "-p", "no:cacheprovider", timeout=120)
    assert result.ret == 0 and result.parseoutcomes()["passed"] == 8, result.stdout.str()
    events = (suite.path / "events.txt").read_text().splitlines()
    builds = [e for e in events if e.startswith("built ")]
    assert len(builds) == 1, events
    shared_workers = {e.split()[0] for e in events if "tests/recipe/" in e}
    assert shared_workers == {builds[0].split()[1]}, events
    assert {e.split()[0] for e in events if "tests/other/" in e} >= {"gw0", "gw1"} - shared_workers, events


def test_a_file_that_uses_the_shared_run_unnamed_stops_the_run(pytester):
    suite = _suite_with_shared_run(pytester, {"tests/new/test_stray.py": USES_RUN})
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "tests/new/test_stray.py: uses the fixture finished_recipe" in result.stdout.str() + result.stderr.str()
