"""Where the tests find the real pretrained files and recordings (read only, never in the repository).

Looked for, in order: $ASC_SHARED_PRETRAINED; <repo>/../shared/pretrained (CI, where the clone has
`shared/` beside it); and, when the repository is a git worktree, <main checkout>/../shared/pretrained.
When the files are missing the tests that need them skip, except under CI (CI=true), where they fail:
there the files are part of the test set-up, and a skip would hide that the check never ran.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT = "mn04_as_mAP_432.pt"


def _worktree_main(repo: Path) -> Path | None:
    """The main checkout of a git worktree (its .git is a file naming .../.git/worktrees/<name>)."""
    dotgit = repo / ".git"
    if not dotgit.is_file():
        return None
    text = dotgit.read_text().strip()
    if not text.startswith("gitdir:"):
        return None
    gitdir = Path(text.split(":", 1)[1].strip())
    gitdir = gitdir if gitdir.is_absolute() else (repo / gitdir).resolve()
    common = gitdir / "commondir"
    if not common.is_file():
        return None
    return (gitdir / common.read_text().strip()).resolve().parent


def candidates() -> list[Path]:
    """The folders looked at, in order."""
    found = []
    if os.environ.get("ASC_SHARED_PRETRAINED"):
        found.append(Path(os.environ["ASC_SHARED_PRETRAINED"]))
    found.append(REPO.parent / "shared" / "pretrained")
    main = _worktree_main(REPO)
    if main is not None:
        found.append(main.parent / "shared" / "pretrained")
    return found


def shared_pretrained(*needed: str) -> Path:
    """The first candidate folder holding every file of `needed` (default: the mn04 checkpoint)."""
    needed = needed or (CHECKPOINT,)
    for folder in candidates():
        if all((folder / name).is_file() for name in needed):
            return folder
    message = (f"pretrained files {', '.join(needed)} not found in any of "
               f"{', '.join(str(c) for c in candidates())} (set ASC_SHARED_PRETRAINED)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
