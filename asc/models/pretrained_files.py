"""The official AudioSet-pretrained files the recipe fine-tunes from: where they are published, their
SHA-256 digests, and finding and checking one in a local folder (db.sh's PRETRAINED_DIR).

A file is trusted only if its SHA-256 equals the digest recorded here. Upstream publishes no digests:
mn04's is that of the copy in the project's shared folder (its README); mn10's and PaSST's are the
digests several independent projects pinned for the same release files; for mn20 and mn40 no digest
is known. Such a file is accepted only when it loads strictly into its model (right format, every
parameter name and shape), and its digest is then written beside it (`<file>.sha256`, trust on first
use) so that a later change of the file is caught.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from asc.errors import InputError

EFFICIENTAT_RELEASE = "https://github.com/fschmid56/EfficientAT/releases/download/v0.0.1/"
PASST_RELEASE = "https://github.com/kkoutini/PaSST/releases/download/v0.0.1-audioset/"


@dataclass(frozen=True)
class PretrainedFile:
    """One official file: its name on the release page, URL, digest (None: none known), size in bytes
    (None: unknown) and the model (registry name and options) it loads into strictly."""
    name: str
    url: str
    sha256: str | None
    size: int | None
    model: str
    model_options: tuple = ()


OFFICIAL = {f.name: f for f in (
    PretrainedFile("mn04_as_mAP_432.pt", EFFICIENTAT_RELEASE + "mn04_as_mAP_432.pt",
                   "899a8c6217063f6941793102a2780b3dd788ab11fce468d9cf5f0577c453321c", 4_066_513, "mn04"),
    PretrainedFile("mn10_as_mAP_471.pt", EFFICIENTAT_RELEASE + "mn10_as_mAP_471.pt",
                   "0bd7dc2443af498c289a2e739f02ebb515d6aa3fd3ab9db539c86123ae368a4e", 19_708_753, "mn10"),
    PretrainedFile("mn20_as_mAP_478.pt", EFFICIENTAT_RELEASE + "mn20_as_mAP_478.pt", None, None, "mn20"),
    PretrainedFile("mn40_as_mAP_484.pt", EFFICIENTAT_RELEASE + "mn40_as_mAP_484.pt", None, None, "mn40"),
    PretrainedFile("passt-s-f128-p16-s10-ap.476-swa.pt", PASST_RELEASE + "passt-s-f128-p16-s10-ap.476-swa.pt",
                   "302903fa8c4aee817b11dc982da0b29aaf8d11a3e722420476d0a12c9db70c2c", 344_665_734, "passt",
                   (("n_classes", 527),)),
)}
# Short names for the command line: mn04_as ... mn40_as, passt_s_swa.
ALIASES = {"mn04_as": "mn04_as_mAP_432.pt", "mn10_as": "mn10_as_mAP_471.pt", "mn20_as": "mn20_as_mAP_478.pt",
           "mn40_as": "mn40_as_mAP_484.pt", "passt_s_swa": "passt-s-f128-p16-s10-ap.476-swa.pt"}
SIDECAR = ".sha256"


def official(name: str) -> PretrainedFile:
    """The official file of a file name or alias; InputError listing the known ones otherwise."""
    name = ALIASES.get(name, name)
    if name not in OFFICIAL:
        raise InputError(name, f"not an official pretrained file this recipe knows; known: "
                               f"{', '.join(sorted(ALIASES))} ({', '.join(sorted(OFFICIAL))})")
    return OFFICIAL[name]


def sha256_of(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def expected_digest(entry: PretrainedFile, path: Path) -> str | None:
    """The digest `path` must have: the recorded one, else the one written beside it on first use."""
    if entry.sha256:
        return entry.sha256
    sidecar = path.with_name(path.name + SIDECAR)
    return sidecar.read_text().split()[0] if sidecar.is_file() else None


def verify(entry: PretrainedFile, path: str | os.PathLike) -> str:
    """Check `path` is `entry` (size, digest; without a known digest: a strict load into its model).

    Returns the file's digest; InputError naming the file and the mismatch otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "pretrained file not found")
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        raise InputError(path, f"{size:,} bytes, but the official {entry.name} has {entry.size:,} "
                               f"(a truncated or different file)")
    digest = sha256_of(path)
    want = expected_digest(entry, path)
    if want is not None and digest != want:
        raise InputError(path, f"SHA-256 {digest} differs from the official {entry.name}'s {want} "
                               f"(a corrupted or different file)")
    if want is None:
        check_loads(entry, path)
    return digest


def check_loads(entry: PretrainedFile, path: Path) -> None:
    """A file without a known digest must at least be a weights-only checkpoint of its model, strictly."""
    from asc.models import build_model
    from asc.models.checkpoints import load_pretrained

    model = build_model(entry.model, **dict(entry.model_options))
    kept = load_pretrained(model, path)
    if kept:
        raise InputError(path, f"does not match {entry.model} entirely: {', '.join(kept)} differ in shape")


def resolve(name: str, folder: str | os.PathLike) -> Path:
    """The verified copy of official file `name` in `folder` (e.g. db.sh's PRETRAINED_DIR)."""
    entry = official(name)
    path = Path(folder) / entry.name
    if not path.is_file():
        raise InputError(path, f"pretrained file not found; fetch it with `python -m asc.bin.download "
                               f"--out {folder} {entry.name}` or point PRETRAINED_DIR (db.sh) at a folder "
                               f"holding it")
    verify(entry, path)
    return path


__all__ = ["PretrainedFile", "OFFICIAL", "ALIASES", "official", "sha256_of", "verify", "resolve",
           "expected_digest", "SIDECAR"]
