"""Atomic writes reach the disk before their name points at them (fsync, then rename, then the folder)."""
from __future__ import annotations

import os

from asc import atomic


def test_file_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out.json"
    atomic.write_json(target, {"a": 1})
    kinds = [kind for kind, _ in calls]
    assert kinds == ["fsync", "replace", "fsync"]
    assert calls[0][1].startswith(str(tmp_path / ".out.json.tmp"))      # the temporary, before the rename
    assert calls[2][1] == str(tmp_path)                                  # the folder, after it
    assert target.read_text().strip().startswith("{")
