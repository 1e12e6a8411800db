"""asc.download / asc.bin.download against a local HTTP server on 127.0.0.1: a good file is verified and
placed, a corrupted or truncated one is refused naming the file, and nothing is left behind."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch

from asc.bin import download as download_cli
from asc.download import fetch
from asc.errors import InputError
from asc.models import build_model
from asc.models.pretrained_files import SIDECAR, PretrainedFile, resolve


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):      # keep pytest's output clean
        pass


@pytest.fixture
def server(tmp_path):
    """(folder served, base URL, list of requested paths) of a server on 127.0.0.1."""
    root = tmp_path / "served"
    root.mkdir()
    requests: list[str] = []

    class Counting(_Handler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Counting, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[bytes, PretrainedFile]:
    """A real mn04 state dict (random weights) and the entry that describes it."""
    path = tmp_path_factory.mktemp("ckpt") / "mn04_test.pt"
    torch.manual_seed(0)
    torch.save(build_model("mn04").state_dict(), path)
    data = path.read_bytes()
    entry = PretrainedFile("mn04_test.pt", "unused", hashlib.sha256(data).hexdigest(), len(data), "mn04")
    return data, entry


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_file_is_verified_placed_and_then_kept_offline(server, checkpoint, tmp_path):
    root, base, requests = server
    data, entry = checkpoint
    (root / entry.name).write_bytes(data)
    out = tmp_path / "pretrained"
    out.mkdir()
    (out / f".{entry.name}.tmp1234.part").write_bytes(data[:10])      # a killed download's temporary
    logs = []
    placed = fetch(entry, out, url=f"{base}/{entry.name}", log=logs.append)
    assert placed == out / entry.name and placed.read_bytes() == data
    assert _left_in(out) == [entry.name] and "SHA-256 verified" in logs[-1]
    assert len(requests) == 1
    fetch(entry, out, url=f"{base}/{entry.name}", log=logs.append)     # already there: no request
    assert len(requests) == 1 and "nothing to fetch" in logs[-1]


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_damaged_download_is_refused_and_nothing_is_left(server, checkpoint, tmp_path, damage):
    root, base, _ = server
    data, entry = checkpoint
    bad = data[:len(data) // 3] if damage == "truncated" else data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
    (root / entry.name).write_bytes(bad)
    out = tmp_path / "pretrained"
    expected = r"bytes, but the official" if damage == "truncated" else r"SHA-256 [0-9a-f]+ differs"
    with pytest.raises(InputError, match=rf"{entry.name}: refused, nothing placed.*{expected}"):
        fetch(entry, out, url=f"{base}/{entry.name}", log=lambda m: None)
    assert _left_in(out) == []


def test_missing_file_on_the_server_is_an_error_naming_it(server, checkpoint, tmp_path):
    _, base, _ = server
    _, entry = checkpoint
    with pytest.raises(InputError, match=rf"{entry.name}.*failed.*nothing placed"):
        fetch(entry, tmp_path / "out", url=f"{base}/{entry.name}", log=lambda m: None)
    assert _left_in(tmp_path / "out") == []


def test_a_bad_file_already_in_place_is_replaced(server, checkpoint, tmp_path):
    root, base, _ = server
    data, entry = checkpoint
    (root / entry.name).write_bytes(data)
    out = tmp_path / "pretrained"
    out.mkdir()
    (out / entry.name).write_bytes(data[:100])
    fetch(entry, out, url=f"{base}/{entry.name}", log=lambda m: None)
    assert (out / entry.name).read_bytes() == data


def test_without_a_known_digest_a_strict_load_decides_and_the_digest_is_recorded(server, checkpoint, tmp_path):
    root, base, _ = server
    data, entry = checkpoint
    unknown = dataclasses.replace(entry, sha256=None, size=None)
    out = tmp_path / "pretrained"
    torch.save(build_model("mn10").state_dict(), root / entry.name)          # the wrong width
    with pytest.raises(InputError, match=r"refused, nothing placed.*shape mismatch"):
        fetch(unknown, out, url=f"{base}/{entry.name}", log=lambda m: None)
    assert _left_in(out) == []
    (root / entry.name).write_bytes(data)
    fetch(unknown, out, url=f"{base}/{entry.name}", log=lambda m: None)
    assert _left_in(out) == [entry.name, entry.name + SIDECAR]
    assert (out / (entry.name + SIDECAR)).read_text().split()[0] == entry.sha256
    (out / entry.name).write_bytes(data[:-10] + b"0123456789")                # changed after first use
    with pytest.raises(InputError, match=r"differs"):
        resolve_entry(unknown, out)


def resolve_entry(entry: PretrainedFile, folder: Path) -> Path:
    from asc.models import pretrained_files

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(pretrained_files.OFFICIAL, entry.name, entry)
        return resolve(entry.name, folder)


def test_cli_copies_from_a_local_folder_and_names_failures(checkpoint, tmp_path, capsys, monkeypatch):
    from asc.models import pretrained_files

    data, entry = checkpoint
    monkeypatch.setitem(pretrained_files.OFFICIAL, entry.name, entry)
    source = tmp_path / "offline"
    source.mkdir()
    (source / entry.name).write_bytes(data)
    assert download_cli.main(["--out", str(tmp_path / "out"), "--from", str(source), entry.name]) == 0
    assert (tmp_path / "out" / entry.name).read_bytes() == data
    (source / entry.name).write_bytes(data[:5000])
    assert download_cli.main(["--out", str(tmp_path / "out2"), "--from", str(source), entry.name]) == 1
    err = capsys.readouterr().err
    assert f"offline/{entry.name}: refused, nothing placed" in err and "bytes, but the official" in err
    assert _left_in(tmp_path / "out2") == []
    assert download_cli.main(["--out", str(tmp_path / "out3"), "nonesuch"]) == 1
    assert "not an official pretrained file" in capsys.readouterr().err


def test_cli_fetches_what_training_configs_name(checkpoint, tmp_path, capsys, monkeypatch):
    """A recipe fetches its teachers' files from their configs; a config without `pretrained:` adds
    nothing, and an unknown file named by a config is refused naming it."""
    from asc.models import pretrained_files

    data, entry = checkpoint
    monkeypatch.setitem(pretrained_files.OFFICIAL, entry.name, entry)
    source = tmp_path / "offline"
    source.mkdir()
    (source / entry.name).write_bytes(data)
    teacher = tmp_path / "train_teacher.yaml"
    teacher.write_text(f"model_config: model.yaml\npretrained: {entry.name}\n")
    scratch = tmp_path / "train_scratch.yaml"
    scratch.write_text("model_config: model.yaml\n")
    out = tmp_path / "out"
    argv = ["--out", str(out), "--from", str(source), "--for-config", str(teacher), "--for-config", str(scratch)]
    assert download_cli.main(argv) == 0
    assert _left_in(out) == [entry.name]
    assert download_cli.main(["--out", str(tmp_path / "none"), "--for-config", str(scratch)]) == 0
    assert _left_in(tmp_path / "none") == []
    teacher.write_text("model_config: model.yaml\npretrained: nonesuch.pt\n")
    assert download_cli.main(["--out", str(out), "--for-config", str(teacher)]) == 1
    assert "not an official pretrained file" in capsys.readouterr().err
