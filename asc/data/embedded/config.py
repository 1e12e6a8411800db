"""Options of the embedded corpus generator, as typed dataclasses read from conf/<profile>/corpus.yaml.

Three products share the scene and device models: the development corpus (TAU22 layout with the
DCASE2024 split files), an unlabeled evaluation set (TAU22 evaluation layout) and a folder of device
impulse responses for augmentation. Each has its own options group and its own config hash, so that
changing, say, the number of impulse responses does not invalidate the development corpus.

Difficulty is a config change: `difficulty` scales how distinct the classes are, how much locations,
cities and recordings vary, how loud events are against the background and how severe the devices are.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from asc.data.embedded.devices import known_device
from asc.errors import ConfigError

DEV_CITIES = ["barcelona", "helsinki", "lisbon", "london", "lyon", "milan", "paris", "prague",
              "stockholm", "vienna"]
# Bumped whenever the generator's models change what a given config produces.
GENERATOR_VERSION = 1

ALL_CITIES = ["amsterdam", "barcelona", "helsinki", "lisbon", "london", "lyon", "madrid", "milan",
              "prague", "paris", "stockholm", "vienna"]


@dataclass
class DevLayout:
    """Size and layout of the development corpus (TAU Urban Acoustic Scenes 2022 Mobile, development)."""
    cities: list[str] = field(default_factory=lambda: list(DEV_CITIES))
    locations_per_city: int = 2          # recording locations per scene and city
    segments_per_location: int = 2       # 10-s recordings per location
    test_location_fraction: float = 0.2  # share of each scene's locations whose recordings are test
    train_pieces: int = 4                # 1-s pieces written per training recording and device
    test_pieces: int = 2                 # 1-s pieces written per test recording and device
    parallel_fraction: float = 0.04      # share of a scene's training recordings that each of b, c, s1-s3 also recorded


@dataclass
class EvalLayout:
    """Size of the unlabeled evaluation set (TAU22 evaluation layout: audio/<n>.wav, meta.csv)."""
    enabled: bool = True
    cities: list[str] = field(default_factory=lambda: list(ALL_CITIES))
    recordings_per_scene: int = 4
    devices: list[str] = field(default_factory=lambda: ["a", "b", "c", "d", "s1", "s2", "s3", "s4", "s5",
                                                        "s6", "s7", "s8", "s9", "s10", "s11"])
    devices_per_recording: int = 3
    pieces: int = 2                      # 1-s pieces per recording and device


@dataclass
class DirsConfig:
    """Device impulse responses for augmentation, from a family distinct from the simulated devices."""
    count: int = 24
    length: int = 2048                   # taps at the corpus sample rate


@dataclass
class Difficulty:
    """Knobs that make the corpus easier or harder; calibrated by training the baseline."""
    class_overlap: float = 0.05          # 0: each scene its own recipe; 1: every scene the mean recipe
    event_snr_db: float = 6.0            # added to every event level (against the background)
    location_spread: float = 0.5         # scale of the location-to-location variation
    city_spread: float = 1.0             # scale of the city-to-city variation
    recording_spread: float = 1.0        # scale of the recording-to-recording variation
    level_spread_db: float = 5.0         # standard deviation of a recording's overall level
    device_severity: float = 1.0         # scale of the responses and non-linearities of b, c, s1-s3
    unseen_device_severity: float = 1.8  # the same for devices never in training (s4-s6, d, s7-s11)


@dataclass
class CorpusConfig:
    """Everything the embedded corpus generator needs; the same config and seed give the same bytes."""
    seed: int = 0
    sample_rate: int = 44100
    recording_seconds: int = 10
    dev: DevLayout = field(default_factory=DevLayout)
    eval: EvalLayout = field(default_factory=EvalLayout)
    dirs: DirsConfig = field(default_factory=DirsConfig)
    difficulty: Difficulty = field(default_factory=Difficulty)
    workers: int = 2                     # processes; does not change the output


def config_hash(cfg: CorpusConfig, product: str) -> str:
    """Hash of the options that determine one product ('dev', 'eval' or 'dirs'), to detect a folder
    generated with other options."""
    common = {"seed": cfg.seed, "sample_rate": cfg.sample_rate, "generator": GENERATOR_VERSION}
    if product == "dev":
        parts = {**common, "recording_seconds": cfg.recording_seconds, "dev": cfg.dev,
                 "difficulty": cfg.difficulty}
    elif product == "eval":
        parts = {**common, "recording_seconds": cfg.recording_seconds, "eval": cfg.eval,
                 "difficulty": cfg.difficulty}
    elif product == "dirs":
        parts = {**common, "dirs": cfg.dirs}
    else:
        raise ValueError(f"unknown product {product!r}")
    plain = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in parts.items()}
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16]






def check_config(cfg: CorpusConfig) -> None:
    """Refuse option values that cannot make a valid corpus, naming the option."""
    dev = cfg.dev
    rules = [
        (cfg.sample_rate >= 16000, "sample_rate must be at least 16000"),
        (cfg.recording_seconds >= 1, "recording_seconds must be at least 1"),
        (len(dev.cities) >= 1 and len(set(dev.cities)) == len(dev.cities), "dev.cities must be distinct, at least one"),
        (all(c.isalpha() and c.islower() for c in dev.cities + cfg.eval.cities),
         "city names must be lower-case letters (they are part of file names)"),
        (1 <= dev.locations_per_city < 1000, "dev.locations_per_city must be in 1..999"),
        (len(dev.cities) * dev.locations_per_city >= 2,
         "each scene needs at least 2 locations (cities x locations_per_city), one for training and one for test"),
        (dev.segments_per_location >= 1, "dev.segments_per_location must be at least 1"),
        (0.0 < dev.test_location_fraction < 1.0, "dev.test_location_fraction must be between 0 and 1"),
        (1 <= dev.train_pieces <= cfg.recording_seconds, "dev.train_pieces must be in 1..recording_seconds"),
        (1 <= dev.test_pieces <= cfg.recording_seconds, "dev.test_pieces must be in 1..recording_seconds"),
        (0.0 <= dev.parallel_fraction <= 1.0, "dev.parallel_fraction must be between 0 and 1"),
        (cfg.eval.recordings_per_scene >= 1, "eval.recordings_per_scene must be at least 1"),
        (1 <= cfg.eval.devices_per_recording <= len(cfg.eval.devices),
         "eval.devices_per_recording must be between 1 and the number of eval.devices"),
        (1 <= cfg.eval.pieces <= cfg.recording_seconds, "eval.pieces must be in 1..recording_seconds"),
        (cfg.dirs.count >= 0 and cfg.dirs.length >= 64, "dirs.count must be >= 0 and dirs.length >= 64"),
        (0.0 <= cfg.difficulty.class_overlap <= 1.0, "difficulty.class_overlap must be between 0 and 1"),
        (cfg.workers >= 1, "workers must be at least 1"),
    ]
    for ok, message in rules:
        if not ok:
            raise ConfigError(f"corpus config: {message}")
    for name in cfg.eval.devices:
        if not known_device(name):
            raise ConfigError(f"corpus config: eval.devices: unknown device {name!r} "
                              "(a, b, c, d, or s<N> for a simulated device)")
