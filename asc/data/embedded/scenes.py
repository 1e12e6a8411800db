"""Acoustic scene models: what each of the ten TAU22 scenes sounds like, as distributions.

A scene is a recipe of numbers: the background's spectrum (level, tilt, low-frequency rumble, a broad
bump, high-frequency roll-off), the room (reverberation time, wet share) and, for each sound source
of `events.py`, how often it occurs and how loud it is against the background. The recipe is blended
toward the mean of all scenes by `difficulty.class_overlap`, so that scenes overlap as real ones do.
A city shifts every number a little (and brings its own chime melody, door beeps and sirens), a
location draws its own values around the city's, and a recording varies around its location: classes
are distributions, not templates.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from asc.data.embedded import dsp, events
from asc.data.embedded.config import Difficulty

LABELS = ["airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall",
          "street_pedestrian", "street_traffic", "tram"]

# The sound pressure level that device a records at 0 dBFS: loud scenes peak a few dB below full scale.
FULL_SCALE_SPL = 105.0

# Sources that sound the whole recording when present (rate = probability of being present) and
# sources that occur as events (rate = expected count per 10 s).
CONTINUOUS = ("swell", "water", "hum", "engine", "babble", "rail", "music")
EVENTS = ("traffic", "train", "voices", "footsteps", "luggage", "chime", "beeps", "bell", "birds",
          "squeal", "hiss", "siren")


@dataclass(frozen=True)
class Spec:
    """How a parameter varies: 'lin' adds, 'log' multiplies by 2**(octaves), 'rate' multiplies by a
    log-normal factor; the three numbers are standard deviations across cities, locations, recordings."""
    mode: str
    city: float
    location: float
    recording: float


SPECS: dict[str, Spec] = {
    "level": Spec("lin", 2.0, 4.0, 1.5),            # background level, dB SPL
    "tilt": Spec("lin", 0.4, 0.8, 0.25),            # background slope, dB/octave
    "rumble_db": Spec("lin", 1.5, 4.0, 1.0),        # low-frequency shelf, dB
    "rumble_hz": Spec("log", 0.2, 0.4, 0.1),
    "bump_db": Spec("lin", 1.0, 2.5, 0.7),          # broad spectral bump
    "bump_hz": Spec("log", 0.3, 0.6, 0.15),
    "bump_oct": Spec("log", 0.0, 0.3, 0.05),
    "hf_hz": Spec("log", 0.2, 0.4, 0.1),            # high-frequency roll-off
    "rt60": Spec("log", 0.15, 0.35, 0.05),          # reverberation time, s
    "wet": Spec("lin", 0.05, 0.12, 0.03),           # share of reverberant sound
    "swell_hz": Spec("log", 0.1, 0.3, 0.1),
    "swell_depth": Spec("lin", 0.05, 0.15, 0.1),
    "muffle_hz": Spec("log", 0.1, 0.3, 0.1),        # traffic heard through walls or from afar
    "talkers": Spec("log", 0.1, 0.4, 0.2),
    "foot_hz": Spec("log", 0.1, 0.4, 0.1),          # brightness of footsteps (floor surface)
    "voice_f0": Spec("log", 0.08, 0.1, 0.05),
    "whine_hz": Spec("log", 0.3, 0.15, 0.02),       # rolling stock: differs by city
    "clatter_hz": Spec("log", 0.15, 0.15, 0.05),
    "rail_rumble_db": Spec("lin", 1.0, 2.0, 0.5),
    "engine_hz": Spec("log", 0.1, 0.2, 0.1),
    "fan_hz": Spec("log", 0.0, 0.5, 0.0),
    "tempo": Spec("log", 0.0, 0.2, 0.05),
    "announce": Spec("lin", 0.0, 0.1, 0.0),
}
for _name in CONTINUOUS + EVENTS:
    SPECS[f"{_name}_rate"] = Spec("rate", 0.25, 0.5, 0.35)
    SPECS[f"{_name}_level"] = Spec("lin", 1.0, 3.0, 2.0)

DEFAULTS = {
    "rumble_hz": 150.0, "bump_oct": 1.5, "rt60": 0.5, "wet": 0.3, "swell_hz": 200.0, "swell_depth": 0.5,
    "muffle_hz": 16000.0, "talkers": 8.0, "foot_hz": 1500.0, "voice_f0": 160.0, "whine_hz": 300.0,
    "clatter_hz": 1.2, "rail_rumble_db": 0.0, "engine_hz": 35.0, "fan_hz": 180.0, "tempo": 110.0,
    "announce": 0.5,
    **{f"{name}_rate": 0.0 for name in CONTINUOUS + EVENTS},
    **{f"{name}_level": -6.0 for name in CONTINUOUS + EVENTS},
}


def _recipe(bed: tuple, room: tuple, sources: dict, **extra) -> dict:
    level, tilt, rumble_db, rumble_hz, bump_hz, bump_db, hf_hz = bed
    recipe = dict(DEFAULTS, level=level, tilt=tilt, rumble_db=rumble_db, rumble_hz=rumble_hz,
                  bump_hz=bump_hz, bump_db=bump_db, hf_hz=hf_hz, rt60=room[0], wet=room[1], **extra)
    for name, (rate, level_db) in sources.items():
        recipe[f"{name}_rate"] = rate
        recipe[f"{name}_level"] = level_db
    return recipe


# bed: (level dB SPL, tilt dB/oct, rumble dB, rumble Hz, bump Hz, bump dB, roll-off Hz); room: (RT60 s, wet)
# sources: name -> (rate: presence probability or events per 10 s, level dB against the background)
RECIPES: dict[str, dict] = {
    "airport": _recipe(
        (62, -3.5, 3, 120, 500, 4, 9000), (1.8, 0.7),
        {"swell": (0.3, -6), "babble": (1.0, 0), "voices": (1.5, -2), "footsteps": (2.0, -4),
         "luggage": (2.0, -2), "chime": (0.5, 0), "music": (0.2, -8), "hum": (0.8, -8), "beeps": (0.1, -6)},
        talkers=14.0, foot_hz=2500.0, announce=0.7, swell_hz=150.0),
    "shopping_mall": _recipe(
        (64, -3.0, 2, 120, 700, 5, 9000), (1.4, 0.65),
        {"babble": (1.0, 1), "voices": (2.0, 0), "footsteps": (2.5, -3), "music": (0.8, -3),
         "chime": (0.15, -2), "luggage": (0.3, -6), "hum": (0.6, -8), "swell": (0.2, -8), "water": (0.1, -6)},
        talkers=16.0, foot_hz=2500.0, voice_f0=200.0, announce=0.4),
    "metro_station": _recipe(
        (66, -4.0, 8, 100, 300, 4, 7000), (2.2, 0.8),
        {"swell": (0.8, 2), "train": (0.6, 6), "chime": (0.6, 1), "beeps": (0.4, -2), "babble": (0.7, -3),
         "voices": (1.0, -3), "footsteps": (2.0, -3), "squeal": (0.3, 2), "music": (0.1, -6), "hum": (0.5, -6)},
        talkers=8.0, foot_hz=2200.0, announce=0.8, swell_hz=120.0, whine_hz=320.0, clatter_hz=1.4),
    "metro": _recipe(
        (74, -5.0, 14, 90, 350, 6, 6000), (0.5, 0.5),
        {"rail": (1.0, 4), "squeal": (0.6, 1), "beeps": (0.5, -1), "chime": (0.4, -2), "babble": (0.3, -6),
         "voices": (0.8, -3), "hiss": (0.3, -4), "swell": (0.9, 3)},
        talkers=5.0, swell_hz=110.0, swell_depth=0.7, whine_hz=320.0, clatter_hz=1.6, rail_rumble_db=3.0),
    "tram": _recipe(
        (68, -4.5, 10, 120, 400, 5, 7000), (0.45, 0.45),
        {"rail": (1.0, 1), "traffic": (1.5, -6), "squeal": (0.5, 0), "beeps": (0.6, -1), "bell": (0.4, 0),
         "chime": (0.3, -2), "babble": (0.3, -6), "voices": (0.8, -3), "hiss": (0.2, -5), "swell": (0.4, 0)},
        talkers=5.0, muffle_hz=1500.0, whine_hz=260.0, clatter_hz=1.0, rail_rumble_db=-2.0),
    "bus": _recipe(
        (70, -5.0, 13, 100, 250, 5, 6000), (0.4, 0.4),
        {"engine": (1.0, 3), "traffic": (1.5, -4), "hiss": (0.5, -2), "beeps": (0.4, -3), "voices": (1.0, -3),
         "babble": (0.3, -6), "chime": (0.2, -4), "squeal": (0.2, -3), "swell": (0.6, 1)},
        talkers=5.0, muffle_hz=1200.0, swell_hz=150.0, announce=0.3),
    "park": _recipe(
        (50, -5.5, 6, 200, 2500, 3, 12000), (0.15, 0.2),
        {"birds": (3.0, 2), "swell": (0.7, 0), "traffic": (0.8, -10), "voices": (0.8, -4),
         "footsteps": (0.6, -8), "water": (0.15, -3), "babble": (0.1, -10)},
        muffle_hz=2000.0, foot_hz=4000.0, voice_f0=220.0, swell_hz=250.0, swell_depth=0.8),
    "public_square": _recipe(
        (60, -4.0, 6, 150, 800, 2, 11000), (0.4, 0.3),
        {"babble": (0.8, -2), "voices": (1.2, -2), "footsteps": (1.5, -4), "traffic": (1.5, -6),
         "birds": (0.8, -2), "water": (0.3, -2), "music": (0.2, -6), "bell": (0.1, -6), "swell": (0.5, -2)},
        talkers=10.0, muffle_hz=6000.0, foot_hz=1200.0, swell_hz=250.0, tempo=120.0),
    "street_pedestrian": _recipe(
        (63, -3.5, 6, 150, 900, 3, 10000), (0.5, 0.3),
        {"babble": (1.0, 0), "voices": (2.0, -1), "footsteps": (3.0, -2), "traffic": (0.8, -6),
         "music": (0.15, -6), "birds": (0.3, -6), "luggage": (0.4, -6), "bell": (0.1, -6), "swell": (0.4, -3)},
        talkers=10.0, muffle_hz=8000.0, foot_hz=1200.0, swell_hz=250.0),
    "street_traffic": _recipe(
        (68, -4.5, 10, 200, 1000, 4, 9000), (0.35, 0.25),
        {"traffic": (6.0, 4), "swell": (0.9, 2), "squeal": (0.2, -3), "siren": (0.08, 0), "hiss": (0.1, -4),
         "footsteps": (0.5, -8), "voices": (0.4, -6), "babble": (0.1, -10), "bell": (0.1, -4), "birds": (0.1, -8)},
        foot_hz=1200.0, swell_hz=180.0),
}


def blended_recipe(scene: str, overlap: float) -> dict:
    """The scene's recipe moved toward the mean of all scenes by `overlap` (0: own recipe, 1: the mean);
    frequencies and times blend on a log scale."""
    out = {}
    for name, spec in SPECS.items():
        values = np.array([RECIPES[s][name] for s in LABELS], dtype=float)
        own = RECIPES[scene][name]
        if spec.mode == "log":
            out[name] = float(np.exp((1 - overlap) * np.log(own) + overlap * np.log(values).mean()))
        else:
            out[name] = float((1 - overlap) * own + overlap * values.mean())
    return out


def vary(params: dict, rng: np.random.Generator, level: str, scale: float) -> dict:
    """`params` varied at one level ('city', 'location' or 'recording') with standard deviations scaled
    by `scale`; draws in a fixed order so the same generator gives the same result."""
    out = {}
    for name in sorted(SPECS):
        spec = SPECS[name]
        z = rng.standard_normal() * getattr(spec, level) * scale
        value = params[name]
        if spec.mode == "lin":
            out[name] = value + z
        elif spec.mode == "log":
            out[name] = value * 2.0 ** z
        else:
            out[name] = value * float(np.exp(z - 0.5 * (getattr(spec, level) * scale) ** 2))
    out["wet"] = float(np.clip(out["wet"], 0.0, 0.95))
    out["announce"] = float(np.clip(out["announce"], 0.0, 1.0))
    return out


def offsets(rng: np.random.Generator, scale: float) -> dict:
    """A city's shift of every parameter (additive for 'lin', multiplicative otherwise)."""
    zero = {name: (0.0 if spec.mode == "lin" else 1.0) for name, spec in SPECS.items()}
    return vary(zero, rng, "city", scale)


def apply_offsets(params: dict, shift: dict) -> dict:
    """`params` shifted by a city's `offsets`."""
    return {name: (params[name] + shift[name] if SPECS[name].mode == "lin" else params[name] * shift[name])
            for name in SPECS}


@dataclass(frozen=True)
class CityStyle:
    """What a city brings besides shifted numbers: its PA chime, door beeps and siren pattern."""
    shift: dict
    melody: tuple
    beep_hz: float
    siren: int


def city_style(seed: int, city: str, spread: float) -> CityStyle:
    """The style of `city`, the same for every scene and recording of the corpus."""
    rng = dsp.rng_for(seed, "city", city)
    shift = offsets(rng, spread)
    steps = tuple(int(s) for s in rng.choice([0, 2, 4, 5, 7, 9, 12, -3, -5], size=int(rng.integers(2, 5))))
    return CityStyle(shift, (int(rng.integers(-5, 8)), steps), float(rng.uniform(1000, 3200)), int(rng.integers(0, 2)))


def location_params(seed: int, scene: str, city: str, location: int, difficulty: Difficulty) -> tuple[dict, tuple]:
    """The parameters of one recording location (and its bird species), drawn around the city's
    version of the blended scene recipe."""
    style = city_style(seed, city, difficulty.city_spread)
    base = apply_offsets(blended_recipe(scene, difficulty.class_overlap), style.shift)
    rng = dsp.rng_for(seed, "location", scene, city, location)
    params = vary(base, rng, "location", difficulty.location_spread)
    species = tuple((lo, lo * rng.uniform(1.3, 2.2), rng.uniform(0.03, 0.2), rng.uniform(4.0, 12.0))
                    for lo in rng.uniform(1500.0, 4000.0, size=int(rng.integers(1, 4))))
    return params, species


def render(rng: np.random.Generator, ctx: events.Ctx, params: dict, species: tuple, style: CityStyle,
           room: np.ndarray, difficulty: Difficulty) -> np.ndarray:
    """The spectrum (rfft of `ctx.n` samples) of one recording of a scene at a location whose
    `room_response` is `room`, scaled to device-a dBFS (FULL_SCALE_SPL at 0 dBFS)."""
    p = vary(params, rng, "recording", difficulty.recording_spread)
    bed = dsp.noise_spectrum(rng, ctx.n, ctx.response(lambda f: _bed_gains(f, p)))
    sources = _sources(rng, ctx, p, species, style, difficulty.event_snr_db)
    spectrum = bed + dsp.rfft(sources) * room
    level = p["level"] + rng.normal(0.0, difficulty.level_spread_db) - FULL_SCALE_SPL
    return spectrum * np.float32(dsp.from_db(level))


def _bed_gains(freqs: np.ndarray, p: dict) -> np.ndarray:
    db = (dsp.tilt_db(freqs, p["tilt"]) + p["rumble_db"] / (1.0 + (freqs / p["rumble_hz"]) ** 2)
          + p["bump_db"] * dsp.log_bell(freqs, p["bump_hz"], p["bump_oct"]))
    return dsp.from_db(db) * dsp.highpass(freqs, 20.0, 2) * dsp.lowpass(freqs, p["hf_hz"], 2)


def _sources(rng: np.random.Generator, ctx: events.Ctx, p: dict, species: tuple, style: CityStyle,
             snr_db: float) -> np.ndarray:
    """Every source of the recording mixed at its level against the unit-RMS background."""
    seconds = ctx.n / ctx.sr
    out = np.zeros(ctx.n)
    for name in CONTINUOUS + EVENTS:
        rate = p[f"{name}_rate"]
        if name in CONTINUOUS:
            count = int(rng.random() < min(rate, 1.0))
        else:
            count = int(rng.poisson(rate * seconds / 10.0))
        if count:
            out += dsp.from_db(p[f"{name}_level"] + snr_db) * _source(name, rng, ctx, count, p, species, style)
    return out


def _source(name: str, rng: np.random.Generator, ctx: events.Ctx, count: int, p: dict, species: tuple,
            style: CityStyle) -> np.ndarray:
    """Source `name` (`count` events of it) with the recording's parameters."""
    return _SOURCES[name](rng, ctx, count, p, species, style)


_SOURCES = {
    "swell": lambda rng, ctx, k, p, sp, st: events.swell(rng, ctx, p["swell_hz"], p["swell_depth"]),
    "water": lambda rng, ctx, k, p, sp, st: events.water(rng, ctx),
    "hum": lambda rng, ctx, k, p, sp, st: events.hum(rng, ctx, p["fan_hz"]),
    "engine": lambda rng, ctx, k, p, sp, st: events.engine(rng, ctx, p["engine_hz"]),
    "babble": lambda rng, ctx, k, p, sp, st: events.babble(rng, ctx, p["talkers"], p["voice_f0"]),
    "rail": lambda rng, ctx, k, p, sp, st: events.rail_ride(rng, ctx, p["whine_hz"], p["clatter_hz"],
                                                             p["rail_rumble_db"]),
    "music": lambda rng, ctx, k, p, sp, st: events.music(rng, ctx, p["tempo"]),
    "traffic": lambda rng, ctx, k, p, sp, st: events.traffic(rng, ctx, k, p["muffle_hz"]),
    "train": lambda rng, ctx, k, p, sp, st: events.train_pass(rng, ctx, k, p["whine_hz"], p["clatter_hz"],
                                                               p["rail_rumble_db"]),
    "voices": lambda rng, ctx, k, p, sp, st: events.voices(rng, ctx, k, p["voice_f0"]),
    "footsteps": lambda rng, ctx, k, p, sp, st: events.footsteps(rng, ctx, k, p["foot_hz"]),
    "luggage": lambda rng, ctx, k, p, sp, st: events.luggage(rng, ctx, k),
    "chime": lambda rng, ctx, k, p, sp, st: events.chime(rng, ctx, k, st.melody, p["announce"], p["voice_f0"]),
    "beeps": lambda rng, ctx, k, p, sp, st: events.beeps(rng, ctx, k, st.beep_hz),
    "bell": lambda rng, ctx, k, p, sp, st: events.bell(rng, ctx, k),
    "birds": lambda rng, ctx, k, p, sp, st: events.birds(rng, ctx, k, sp),
    "squeal": lambda rng, ctx, k, p, sp, st: events.squeal(rng, ctx, k),
    "hiss": lambda rng, ctx, k, p, sp, st: events.hiss(rng, ctx, k),
    "siren": lambda rng, ctx, k, p, sp, st: events.siren(rng, ctx, k, st.siren),
}
assert set(_SOURCES) == set(CONTINUOUS + EVENTS)


@functools.lru_cache(maxsize=4)
def room_response(seed: int, scene: str, city: str, location: int, rt60: float, wet: float, n: int,
                  sr: int) -> np.ndarray:
    """Frequency response (rfft bins of `n`) of the path from the sources to the microphone at one
    location: direct sound plus a diffuse reverberant tail of reverberation time `rt60` with a few
    early reflections. The same for every recording made there (cached: recordings of a location
    are usually rendered one after the other)."""
    rng = dsp.rng_for(seed, "room", scene, city, location)
    ctx = events.Ctx(n, sr)
    rt60 = float(np.clip(rt60, 0.05, 4.0))
    length = int(min(ctx.n, 1.2 * rt60 * ctx.sr))
    t = np.arange(length) / ctx.sr
    tail = (rng.random(length) - 0.5) * np.exp(-6.91 * t / rt60)
    taps = rng.integers(int(0.002 * ctx.sr), int(0.04 * ctx.sr), size=6)
    tail[np.clip(taps, 0, length - 1)] += rng.uniform(2.0, 6.0, size=6) * tail.std()
    tail[:int(0.001 * ctx.sr)] = 0.0
    reverb = dsp.rfft(tail, ctx.n)
    reverb /= np.sqrt(np.mean(np.abs(reverb) ** 2)) + 1e-12
    reverb *= ctx.response(lambda f: dsp.lowpass(f, 9000.0 / (1.0 + rt60), 1))
    room = (1.0 - wet) + wet * reverb
    room.setflags(write=False)
    return room
