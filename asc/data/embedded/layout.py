"""Which recordings exist, which devices recorded them, which 1-s pieces are written, and the splits.

The development corpus follows TAU22 and the DCASE2024 setup: recordings are grouped by location,
and a location is either training or test (so a recording never straddles the two); device a recorded
every recording, each of b, c, s1-s3 a few training recordings, and the test recordings were recorded
by every device (s4-s6 only there). The nested 5/10/25/50/100 % training subsets are prefixes of one
random order of each scene's training recordings, so 5 is in 10 is in 25 is in 50 is in 100 and a
recording's pieces and devices stay together.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asc.data.embedded import dsp
from asc.data.embedded.config import CorpusConfig
from asc.data.embedded.devices import DEV_DEVICES, TRAIN_DEVICES
from asc.data.embedded.scenes import LABELS

SPLITS = (5, 10, 25, 50, 100)
EVAL_LOCATIONS = 100000   # evaluation locations are numbered apart, so none is a development location


@dataclass(frozen=True)
class Recording:
    """One 10-s recording: where it was made, and the 1-s pieces each device wrote of it."""
    scene: str
    city: str
    location: int
    segment: int
    subset: str                 # 'train', 'test' or 'eval'
    pieces: tuple               # ((device, (piece index, ...)), ...)

    @property
    def rec_id(self) -> str:
        """scene-city-location-segment, the id shared by all devices and pieces of the recording."""
        return f"{self.scene}-{self.city}-{self.location}-{self.segment}"

    @property
    def identifier(self) -> str:
        """meta.csv's `identifier`: the recording location, city-location."""
        return f"{self.city}-{self.location}"

    @property
    def devices(self) -> tuple:
        """The devices that wrote pieces of this recording."""
        return tuple(device for device, _ in self.pieces)

    def filename(self, device: str, piece: int) -> str:
        """Path of one piece relative to the corpus folder, as in TAU22."""
        return f"audio/{self.rec_id}-{piece}-{device}.wav"

    def clips(self) -> list[tuple[str, int]]:
        """(device, piece) of every 1-s clip written of this recording."""
        return [(device, piece) for device, idx in self.pieces for piece in idx]


def plan_dev(cfg: CorpusConfig) -> list[Recording]:
    """Every recording of the development corpus, in a fixed order."""
    rng = dsp.rng_for(cfg.seed, "layout")
    dev = cfg.dev
    recordings = []
    segment = 40000
    for scene_index, scene in enumerate(LABELS):
        sites = [(city, scene_index * 1000 + k) for city in dev.cities for k in range(dev.locations_per_city)]
        n_test = min(len(sites) - 1, max(1, int(round(dev.test_location_fraction * len(sites)))))
        test_sites = {sites[i] for i in rng.choice(len(sites), size=n_test, replace=False)}
        scene_train = []
        for city, location in sites:
            for _ in range(dev.segments_per_location):
                subset = "test" if (city, location) in test_sites else "train"
                scene_train.append((scene, city, location, segment, subset))
                segment += 1
        recordings += _assign_devices(rng, cfg, scene_train)
    return recordings


def _assign_devices(rng: np.random.Generator, cfg: CorpusConfig, rows: list) -> list[Recording]:
    """Devices and pieces of one scene's recordings: a everywhere, each of b, c, s1-s3 on a few
    training recordings, every device on the test recordings."""
    seconds, dev = cfg.recording_seconds, cfg.dev
    train = [i for i, row in enumerate(rows) if row[4] == "train"]
    extra = {device: set() for device in TRAIN_DEVICES[1:]}
    for device in extra:
        k = min(len(train), max(1, int(round(dev.parallel_fraction * len(train))))) if dev.parallel_fraction > 0 else 0
        extra[device] = {train[i] for i in rng.choice(len(train), size=k, replace=False)} if k else set()
    out = []
    for i, (scene, city, location, segment, subset) in enumerate(rows):
        if subset == "test":
            devices, count = DEV_DEVICES, dev.test_pieces
        else:
            devices, count = ("a",) + tuple(d for d in TRAIN_DEVICES[1:] if i in extra[d]), dev.train_pieces
        pieces = tuple((device, tuple(sorted(int(p) for p in rng.choice(seconds, size=count, replace=False))))
                       for device in devices)
        out.append(Recording(scene, city, location, segment, subset, pieces))
    return out


def nested_splits(cfg: CorpusConfig, recordings: list[Recording]) -> dict[int, list[Recording]]:
    """The 5, 10, 25, 50 and 100 % training subsets, chosen by recording and stratified by scene:
    each is the shortest prefix of a random order of the scene's training recordings holding at
    least that share of the scene's training clips."""
    rng = dsp.rng_for(cfg.seed, "splits")
    chosen: dict[int, list[Recording]] = {p: [] for p in SPLITS}
    for scene in LABELS:
        train = [r for r in recordings if r.scene == scene and r.subset == "train"]
        order = [train[i] for i in rng.permutation(len(train))]
        sizes = np.cumsum([len(r.clips()) for r in order])
        for p in SPLITS:
            k = int(np.searchsorted(sizes, p / 100.0 * sizes[-1] - 1e-9)) + 1
            chosen[p] += order[:min(k, len(order))]
    return chosen


def plan_eval(cfg: CorpusConfig) -> list[Recording]:
    """The recordings of the unlabeled evaluation set: new locations in all cities, random devices."""
    rng = dsp.rng_for(cfg.seed, "eval-layout")
    ev = cfg.eval
    out = []
    segment = 90000
    for scene_index, scene in enumerate(LABELS):
        for k in range(ev.recordings_per_scene):
            city = ev.cities[int(rng.integers(0, len(ev.cities)))]
            devices = [ev.devices[i] for i in sorted(rng.choice(len(ev.devices), ev.devices_per_recording, replace=False))]
            pieces = tuple((device, tuple(sorted(int(p) for p in rng.choice(cfg.recording_seconds, ev.pieces, replace=False))))
                           for device in devices)
            out.append(Recording(scene, city, EVAL_LOCATIONS + scene_index * 1000 + k, segment, "eval", pieces))
            segment += 1
    return out


def eval_names(cfg: CorpusConfig, recordings: list[Recording]) -> dict[tuple[str, str, int], str]:
    """Anonymous file names audio/<n>.wav of the evaluation clips, in a random order, keyed by
    (rec_id, device, piece)."""
    keys = [(r.rec_id, device, piece) for r in recordings for device, piece in r.clips()]
    order = dsp.rng_for(cfg.seed, "eval-names").permutation(len(keys))
    return {keys[j]: f"audio/{i}.wav" for i, j in enumerate(order)}
