"""Sound sources of urban scenes: each function returns one source over a whole recording.

Every source is drawn from its own random generator and returned at a nominal level (about unit RMS
while it sounds), so that a scene sets its loudness with one gain. Sources are shared between scenes
on purpose: rail sounds are in the metro, the metro station and the tram; babble and footsteps in the
street, the square, the mall and the airport. What tells scenes apart is the mix, the rates, the
levels and the room, as in real recordings.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asc.data.embedded import dsp


@dataclass(frozen=True)
class Ctx:
    """The recording being rendered: its length and sample rate."""
    n: int
    sr: int

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return self.n / self.sr

    def response(self, curve) -> np.ndarray:
        """A smooth magnitude response `curve(freqs)` at this recording's rfft bins."""
        return dsp.response(self.n, self.sr, curve)


def _unit(x: np.ndarray) -> np.ndarray:
    r = dsp.rms(x)
    return x / r if r > 1e-12 else x


def _unit_events(x: np.ndarray, count: int) -> np.ndarray:
    """Scale a track of events so that an event sounds at about unit RMS (not the whole track)."""
    if count == 0:
        return x
    active = np.abs(x) > 1e-3 * (np.abs(x).max() + 1e-12)
    level = np.sqrt(np.mean(x[active] ** 2)) if active.any() else 1.0
    return x / max(level, 1e-12)


# --- continuous sources ---------------------------------------------------------------------------

def swell(rng: np.random.Generator, ctx: Ctx, cutoff: float, depth: float) -> np.ndarray:
    """Low-frequency noise with slow swells: wind outdoors, tunnel or road rumble, distant traffic."""
    noise = dsp.low_noise(rng, ctx.n, ctx.sr, lambda f: dsp.lowpass(f, cutoff, 2) * dsp.highpass(f, 20.0, 2),
                          4.0 * cutoff)
    envelope = np.maximum(1.0 + depth * dsp.control_curve(rng, ctx.seconds, 0.3), 0.05)
    return _unit(noise * dsp.to_samples(envelope, ctx.n))


def water(rng: np.random.Generator, ctx: Ctx) -> np.ndarray:
    """Fountain or running water: broadband splashing noise with a fast flicker."""
    noise = dsp.shaped_noise(rng, ctx.n, ctx.response(
        lambda f: dsp.highpass(f, 300.0, 2) * dsp.from_db(dsp.tilt_db(f, -1.5, 2000.0))))
    flicker = np.maximum(1.0 + 0.35 * dsp.control_curve(rng, ctx.seconds, 25.0), 0.1)
    return _unit(noise * dsp.to_samples(flicker, ctx.n))


def hum(rng: np.random.Generator, ctx: Ctx, fan_hz: float) -> np.ndarray:
    """Ventilation and mains hum of indoor spaces and vehicles: 100 Hz and its harmonics plus a fan tone."""
    mains = dsp.oscillator(100.0, ctx.n, ctx.sr, [1.0, 0.4, 0.25, 0.1], rng.random())
    fan = dsp.oscillator(fan_hz * (1 + 0.002 * dsp.smooth_random(rng, ctx.n, ctx.sr, 0.5)), ctx.n, ctx.sr,
                         [1.0, 0.5, 0.3], rng.random())
    return _unit(mains + rng.uniform(0.5, 1.5) * fan)


def engine(rng: np.random.Generator, ctx: Ctx, f0: float) -> np.ndarray:
    """A combustion engine heard from inside the vehicle: harmonic drone whose speed and load drift."""
    rpm = f0 * np.exp(0.18 * dsp.smooth_random(rng, ctx.n, ctx.sr, 0.25))
    load = np.maximum(1.0 + 0.5 * dsp.control_curve(rng, ctx.seconds, 0.4), 0.2)
    k = np.arange(1, 25)
    amps = (1.0 / k) * (1.0 + 1.5 * (k % 2 == 0)) * rng.uniform(0.5, 1.0, k.size)
    tone = dsp.oscillator(rpm, ctx.n, ctx.sr, amps, rng.random())
    rattle = dsp.low_noise(rng, ctx.n, ctx.sr, lambda f: dsp.lowpass(f, 600.0, 2) * dsp.highpass(f, 40.0, 2), 2400.0)
    return _unit((tone / max(dsp.rms(tone), 1e-9) + 0.5 * rattle) * dsp.to_samples(load, ctx.n))


def babble(rng: np.random.Generator, ctx: Ctx, talkers: float, f0: float) -> np.ndarray:
    """Many people talking at a distance: speech-shaped noise with syllabic modulation that flattens
    as the crowd grows."""
    shape = ctx.response(lambda f: dsp.highpass(f, 120.0, 2) * dsp.lowpass(f, 5000.0, 2)
                         * dsp.from_db(dsp.tilt_db(f, -4.0, 500.0).clip(max=0))
                         * (1.0 + 0.6 * dsp.log_bell(f, f0 * 3.5, 0.6)))
    noise = dsp.shaped_noise(rng, ctx.n, shape)
    count = int(np.clip(round(talkers), 1, 40))
    envelopes = sum(np.maximum(dsp.control_curve(rng, ctx.seconds, rng.uniform(3.0, 6.0)) + 0.3, 0.0)
                    for _ in range(min(count, 6)))
    depth = min(1.0, 2.5 / np.sqrt(count))
    envelope = (1.0 - depth) + depth * envelopes / max(envelopes.mean(), 1e-6)
    return _unit(noise * dsp.to_samples(envelope, ctx.n))


def rail_ride(rng: np.random.Generator, ctx: Ctx, whine_hz: float, clatter_hz: float,
              rumble_db: float) -> np.ndarray:
    """Riding a train or tram: rumble and wheel-joint clatter that follow the speed, and the traction
    motors' whine whose pitch rises and falls with it."""
    speed = 1.0 / (1.0 + np.exp(-1.6 * dsp.control_curve(rng, ctx.seconds, 0.12) - 1.0))
    return _rail(rng, ctx, ctx.n, speed, whine_hz, clatter_hz, rumble_db)


def _rail(rng: np.random.Generator, ctx: Ctx, n: int, speed_control: np.ndarray, whine_hz: float,
          clatter_hz: float, rumble_db: float) -> np.ndarray:
    """Rail sounds over `n` samples for a speed profile given at the control rate (0 stopped, 1 full)."""
    m = dsp.fast_length(n)
    rumble = dsp.shaped_noise(rng, m, dsp.response(m, ctx.sr, lambda f: dsp.lowpass(f, 250.0, 2) * dsp.highpass(f, 25.0, 2)
                                                   + 0.15 * dsp.log_bell(f, 900.0, 1.0)))[:n]
    accel = np.abs(np.gradient(speed_control))
    drive = dsp.to_samples((0.3 + accel / (accel.max() + 1e-9)) * speed_control, n)
    speed = dsp.to_samples(speed_control, n)
    rumble *= speed ** 1.5
    whine = sum(dsp.oscillator(whine_hz * ratio * (0.15 + speed), n, ctx.sr, [1.0, 0.3], rng.random())
                for ratio in (1.0, 1.5, 2.25)) * drive
    clatter = _clatter(rng, ctx, n, speed, clatter_hz)
    return _unit(dsp.from_db(rumble_db) * _unit(rumble) + 0.35 * _unit(whine) + 0.8 * _unit(clatter))


def _clatter(rng: np.random.Generator, ctx: Ctx, n: int, speed: np.ndarray, rate_hz: float) -> np.ndarray:
    """Wheels over rail joints: pairs of metallic knocks at a rate proportional to the speed."""
    joints = np.cumsum(speed * (rate_hz / ctx.sr)) + rng.random()
    crossings = np.flatnonzero(np.diff(np.floor(joints)) > 0)
    if crossings.size == 0:
        return np.zeros(n)
    gap = (0.12 / np.maximum(speed[crossings], 0.2) * ctx.sr).astype(np.int64)
    starts = np.concatenate([crossings, crossings + gap])
    gains = np.concatenate([speed[crossings], 0.8 * speed[crossings]]) * rng.uniform(0.6, 1.0, 2 * crossings.size)
    k = int(0.04 * ctx.sr)
    t = np.arange(k) / ctx.sr
    kernel = (np.sin(2 * np.pi * rng.uniform(700.0, 2500.0) * t) * np.exp(-t / 0.012)
              + 1.5 * np.sin(2 * np.pi * rng.uniform(60.0, 140.0) * t) * np.exp(-t / 0.02))
    return dsp.place_many(n, starts, kernel, gains)


def music(rng: np.random.Generator, ctx: Ctx, tempo: float) -> np.ndarray:
    """Background music: a chord progression with bass and a plucked melody, through small speakers."""
    step = max(1, int(30.0 / tempo * ctx.sr))          # a melody note lasts half a beat
    steps = (ctx.n + 4 * step) // step + 1
    start = int(rng.integers(0, 4 * step))
    minor = rng.random() < 0.4
    third = 3 if minor else 4
    degrees = [0, 3, 8, 10] if minor else [0, 5, 7, 9]
    chord_roots = 110.0 * 2 ** ((rng.integers(0, 12) + rng.choice(degrees, size=steps // 4 + 1)) / 12)
    roots = chord_roots[np.arange(steps) // 4]
    notes = 4 * roots * 2 ** (rng.choice([0, 2, third, 7, 9, 12], size=steps) / 12)

    def track(values: np.ndarray) -> np.ndarray:
        return np.repeat(values, step)[start:start + ctx.n]

    root_track = track(roots)
    pads = sum(dsp.oscillator(root_track * 2 ** (s / 12), ctx.n, ctx.sr, [1.0, 0.5, 0.3, 0.15], rng.random())
               for s in (0, third, 7))
    bass = dsp.oscillator(root_track, ctx.n, ctx.sr, [0.3, 1.0, 0.5], rng.random())
    melody = dsp.oscillator(track(notes), ctx.n, ctx.sr, [1.0, 0.3], rng.random())
    pluck = np.tile(np.exp(-np.arange(step) / (0.25 * ctx.sr)), steps)[start:start + ctx.n]
    return _unit(0.5 * pads + 0.6 * bass + 0.8 * melody * pluck)


# --- events -----------------------------------------------------------------------------------------

def traffic(rng: np.random.Generator, ctx: Ctx, count: int, muffle_hz: float) -> np.ndarray:
    """Vehicles passing by: tyre and engine noise swelling and fading, brighter while approaching,
    with an engine tone that drops in pitch (Doppler) for heavy vehicles."""
    if count == 0:
        return np.zeros(ctx.n)
    bump = rng.uniform(700, 1400)
    tyre = ctx.response(lambda f: dsp.from_db(dsp.tilt_db(f, -3.0, 800.0).clip(max=6)) * dsp.highpass(f, 50.0, 2)
                        * (1.0 + 1.2 * dsp.log_bell(f, bump, 0.7)) * dsp.lowpass(f, muffle_hz, 2))
    spec = dsp.noise_spectrum(rng, ctx.n, tyre)
    bright = dsp.irfft(spec, ctx.n)
    dark = dsp.irfft(spec * ctx.response(lambda f: dsp.lowpass(f, 1500.0, 2)), ctx.n)
    grid = np.linspace(0.0, ctx.seconds, int(ctx.seconds * dsp.CONTROL_HZ) + 1)
    ahead, behind = np.zeros(grid.size), np.zeros(grid.size)
    tones = np.zeros(ctx.n)
    for _ in range(count):
        width = rng.uniform(0.4, 3.0)
        center = rng.uniform(-1.0, ctx.seconds + 1.0)
        gain = rng.uniform(0.3, 1.0)
        t = grid - center
        env = gain / np.sqrt(1.0 + (t / width) ** 2)
        toward = 1.0 / (1.0 + np.exp(np.clip(t / (0.3 * width), -50, 50)))
        ahead += env * toward
        behind += env * (1.0 - toward)
        lo, hi = max(0, int((center - 3 * width) * ctx.sr)), min(ctx.n, int((center + 3 * width) * ctx.sr))
        if rng.random() < 0.3 and hi > lo:
            ts = np.arange(lo, hi) / ctx.sr - center
            doppler = 1.0 - 0.04 * np.tanh(ts / (0.5 * width))
            tone = dsp.oscillator(rng.uniform(28.0, 55.0) * doppler, hi - lo, ctx.sr,
                                  1.0 / np.arange(1, 16), rng.random())
            tones[lo:hi] += 1.5 * gain / np.sqrt(1.0 + (ts / width) ** 2) * tone
    return _unit(bright * dsp.to_samples(ahead, ctx.n) + dark * dsp.to_samples(behind, ctx.n) + tones)


def train_pass(rng: np.random.Generator, ctx: Ctx, count: int, whine_hz: float, clatter_hz: float,
               rumble_db: float) -> np.ndarray:
    """Trains arriving at or leaving a platform: rumble, clatter and motor whine that slow down to a
    stop or speed up from it."""
    out = np.zeros(ctx.n)
    for _ in range(count):
        seconds = rng.uniform(5.0, 9.0)
        n = int(seconds * ctx.sr)
        ramp = np.linspace(0.0, 1.0, int(seconds * dsp.CONTROL_HZ) + 1)
        arriving = rng.random() < 0.5
        speed = 0.9 * (1.0 - ramp) ** 0.7 + 0.02 if arriving else 0.9 * ramp ** 1.3 + 0.02
        loudness = 0.3 + 0.7 * np.sin(np.pi * np.clip(ramp * 1.2, 0, 1)) ** 0.5
        event = _rail(rng, ctx, n, speed, whine_hz, clatter_hz, rumble_db) * dsp.to_samples(loudness, n)
        dsp.place(out, int(rng.integers(-n // 2, ctx.n)), dsp.fade(event, ctx.sr, 0.3))
    return _unit_events(out, count)


VOICE_FRAME = 1024


def voice(rng: np.random.Generator, sr: int, f0: float, seconds: float, band: bool) -> np.ndarray:
    """One utterance: a glottal source at pitch `f0` shaped syllable by syllable by vowel formants,
    with fricatives between some syllables; `band` limits it to a public-address loudspeaker."""
    n = int(seconds * sr)
    hop = VOICE_FRAME // 2
    pitch = f0 * np.exp(0.08 * dsp.smooth_random(rng, n, sr, 3.0)) * np.linspace(1.05, 0.92, n)
    source = dsp.oscillator(pitch, n, sr, _GLOTTAL, rng.random())
    bounds = np.concatenate([[0], np.cumsum(rng.uniform(0.12, 0.3, size=int(seconds / 0.12) + 2) * sr / hop)])
    syllables = bounds.size - 1
    which = np.clip(np.searchsorted(bounds, np.arange(dsp.frame_count(n, VOICE_FRAME)), side="right") - 1,
                    0, syllables - 1)
    vowels = np.stack([rng.uniform(300, 850, syllables), rng.uniform(850, 2400, syllables),
                       rng.uniform(2300, 3200, syllables)], axis=1)
    fr = np.fft.rfftfreq(VOICE_FRAME, 1.0 / sr)
    gains = sum(weight / (1.0 + ((fr[None, :] - vowels[:, i:i + 1]) / (60.0 + 40 * i)) ** 2)
                for i, weight in enumerate((1.0, 0.6, 0.3))) + 0.01
    if band:
        gains = gains * dsp.highpass(fr, 300.0, 2) * dsp.lowpass(fr, 3400.0, 3)
    voiced = dsp.framewise_filter(source, gains[which], VOICE_FRAME)
    position = np.arange(n) / hop
    idx = np.clip(np.searchsorted(bounds, position, side="right") - 1, 0, syllables - 1)
    shape = np.sin(np.pi * np.clip((position - bounds[idx]) / (bounds[idx + 1] - bounds[idx]), 0, 1))
    hiss = np.diff(rng.random(n + 1) - 0.5) * ((shape < 0.3) & (rng.random(syllables)[idx] < 0.3))
    return dsp.fade(_unit(voiced * shape ** 0.6) + (0.1 if band else 0.4) * hiss, sr, 0.02)


_GLOTTAL = tuple(float(k) ** -1.2 for k in range(1, 60))


def voices(rng: np.random.Generator, ctx: Ctx, count: int, f0: float, band: bool = False) -> np.ndarray:
    """Nearby people talking: `count` utterances of men, women and children around pitch `f0`."""
    out = np.zeros(ctx.n)
    for _ in range(count):
        seconds = rng.uniform(0.8, 3.0)
        pitch = f0 * np.exp(rng.normal(0.0, 0.3))
        utterance = voice(rng, ctx.sr, float(np.clip(pitch, 80, 400)), seconds, band)
        dsp.place(out, int(rng.integers(-utterance.size // 2, ctx.n)), utterance * rng.uniform(0.4, 1.0))
    return _unit_events(out, count)


def footsteps(rng: np.random.Generator, ctx: Ctx, walkers: int, surface_hz: float) -> np.ndarray:
    """People walking past: heel strikes every half second or so, each walker with its own shoes,
    on a surface whose brightness is `surface_hz`."""
    out = np.zeros(ctx.n)
    k = int(0.05 * ctx.sr)
    for _ in range(walkers):
        kernel = dsp.band_noise(rng, k, ctx.sr, surface_hz / 3, surface_hz * 2) \
            * dsp.decay_envelope(k, ctx.sr, 0.001, rng.uniform(0.006, 0.015))
        period = rng.uniform(0.45, 0.65)
        walk = rng.uniform(2.0, 8.0)
        first = rng.uniform(-walk / 2, ctx.n / ctx.sr)
        times = first + np.arange(int(walk / period)) * period + rng.normal(0, 0.015, int(walk / period))
        closeness = np.sin(np.pi * (times - first) / walk) * rng.uniform(0.3, 1.0)
        out += dsp.place_many(ctx.n, (times * ctx.sr).astype(np.int64), kernel,
                              closeness * (1.0 + 0.25 * (np.arange(times.size) % 2)))
    return _unit_events(out, walkers)


def luggage(rng: np.random.Generator, ctx: Ctx, count: int) -> np.ndarray:
    """Suitcases or trolleys rolling by: wheel rumble with a knock at every floor joint."""
    out = np.zeros(ctx.n)
    k = int(0.03 * ctx.sr)
    for _ in range(count):
        n = int(rng.uniform(2.0, 5.0) * ctx.sr)
        ramp = np.linspace(-1, 1, n)
        env = 1.0 / (1.0 + (ramp / 0.4) ** 2)
        roll = dsp.band_noise(rng, n, ctx.sr, rng.uniform(80, 200), rng.uniform(600, 1500))
        joints = np.arange(0, n, int(ctx.sr / rng.uniform(3.0, 7.0)))
        kernel = dsp.band_noise(rng, k, ctx.sr, 300, 3000) * dsp.decay_envelope(k, ctx.sr, 0.0005, 0.006)
        knocks = dsp.place_many(n, joints, kernel, np.full(joints.size, 2.0))
        dsp.place(out, int(rng.integers(-n // 2, ctx.n)), dsp.fade((roll + knocks) * env, ctx.sr, 0.05))
    return _unit_events(out, count)


def chime(rng: np.random.Generator, ctx: Ctx, count: int, melody: tuple, announce: float,
          f0: float) -> np.ndarray:
    """Public-address chimes (the city's own melody), often followed by an announcement."""
    out = np.zeros(ctx.n)
    for _ in range(count):
        base = 440.0 * 2 ** (melody[0] / 12)
        gap = int(rng.uniform(0.35, 0.6) * ctx.sr)
        note_n = int(1.2 * ctx.sr)
        parts = [dsp.oscillator(base * 2 ** (step / 12), note_n, ctx.sr, [1.0, 0.25, 0.1], rng.random())
                 * dsp.decay_envelope(note_n, ctx.sr, 0.005, 0.45) for step in melody[1]]
        total = np.zeros(gap * len(parts) + note_n)
        for i, part in enumerate(parts):
            total[i * gap:i * gap + note_n] += part
        if rng.random() < announce:
            speech = voice(rng, ctx.sr, f0 * np.exp(rng.normal(0, 0.25)), rng.uniform(1.5, 3.5), band=True)
            total = np.concatenate([total, np.zeros(int(0.2 * ctx.sr)), 0.8 * speech])
        dsp.place(out, int(rng.integers(-total.size // 2, ctx.n)), total)
    return _unit_events(out, count)


def beeps(rng: np.random.Generator, ctx: Ctx, count: int, beep_hz: float) -> np.ndarray:
    """Door-closing or validator beeps: a short train of square-ish tones."""
    out = np.zeros(ctx.n)
    for _ in range(count):
        m = int(rng.integers(2, 7))
        on = int(rng.uniform(0.08, 0.25) * ctx.sr)
        period = on + int(rng.uniform(0.08, 0.3) * ctx.sr)
        tone = dsp.fade(dsp.oscillator(beep_hz, on, ctx.sr, [1.0, 0.0, 0.33, 0.0, 0.2], rng.random()), ctx.sr, 0.004)
        train = np.zeros(period * m)
        for i in range(m):
            train[i * period:i * period + on] = tone
        dsp.place(out, int(rng.integers(-train.size // 2, ctx.n)), train)
    return _unit_events(out, count)


def bell(rng: np.random.Generator, ctx: Ctx, count: int) -> np.ndarray:
    """A tram's warning bell: one to three strikes of inharmonic partials."""
    out = np.zeros(ctx.n)
    if count == 0:
        return out
    base = rng.uniform(600.0, 1100.0)
    n = int(0.9 * ctx.sr)
    strike = sum(dsp.oscillator(base * r, n, ctx.sr, [1.0], rng.random()) * a
                 * dsp.decay_envelope(n, ctx.sr, 0.002, 0.35 / r)
                 for r, a in ((1.0, 1.0), (2.76, 0.5), (5.40, 0.25)))
    for _ in range(count):
        start = int(rng.integers(-n // 2, ctx.n))
        for i in range(int(rng.integers(1, 4))):
            dsp.place(out, start + int(i * 0.35 * ctx.sr), strike)
    return _unit_events(out, count)


def birds(rng: np.random.Generator, ctx: Ctx, count: int, species: tuple) -> np.ndarray:
    """Bird song: bouts of frequency-swept chirps; a location has its own few species."""
    out = np.zeros(ctx.n)
    for _ in range(count):
        low, high, chirp_s, rate = species[rng.integers(0, len(species))]
        start = int(rng.integers(0, ctx.n))
        for j in range(int(rng.integers(3, 12))):
            n = int(chirp_s * rng.uniform(0.7, 1.3) * ctx.sr)
            sweep = np.linspace(high, low, n) if rng.random() < 0.6 else np.linspace(low, high, n)
            chirp = dsp.oscillator(sweep, n, ctx.sr, [1.0, 0.15], rng.random()) * np.hanning(n)
            dsp.place(out, start + int(j * ctx.sr / rate), chirp * rng.uniform(0.5, 1.0))
    return _unit_events(out, count)


def squeal(rng: np.random.Generator, ctx: Ctx, count: int) -> np.ndarray:
    """Brake squeal: one to three high partials with a wobble, rising and dying over a second or two."""
    out = np.zeros(ctx.n)
    for _ in range(count):
        n = int(rng.uniform(0.5, 2.0) * ctx.sr)
        f = rng.uniform(1800.0, 5500.0) * (1 + 0.01 * np.sin(2 * np.pi * rng.uniform(4, 9) * np.arange(n) / ctx.sr))
        partials = [1.0] + list(rng.uniform(0.0, 0.5, int(rng.integers(0, 3))))
        tone = dsp.oscillator(f, n, ctx.sr, partials, rng.random())
        env = np.sin(np.pi * np.linspace(0, 1, n)) ** 0.5
        dsp.place(out, int(rng.integers(-n // 2, ctx.n)), tone * env)
    return _unit_events(out, count)


def hiss(rng: np.random.Generator, ctx: Ctx, count: int) -> np.ndarray:
    """Pneumatic doors and air brakes: a burst of bright noise that dies away."""
    out = np.zeros(ctx.n)
    for _ in range(count):
        n = int(rng.uniform(0.3, 1.5) * ctx.sr)
        burst = dsp.band_noise(rng, n, ctx.sr, 1500.0, 12000.0) * dsp.decay_envelope(n, ctx.sr, 0.01, n / ctx.sr / 3)
        dsp.place(out, int(rng.integers(-n // 2, ctx.n)), burst)
    return _unit_events(out, count)


def siren(rng: np.random.Generator, ctx: Ctx, count: int, style: int) -> np.ndarray:
    """An emergency vehicle passing in the distance; the siren pattern depends on the city."""
    out = np.zeros(ctx.n)
    for _ in range(count):
        n = int(rng.uniform(4.0, 8.0) * ctx.sr)
        t = np.arange(n) / ctx.sr
        if style == 0:   # two-tone, as in much of Europe
            f = np.where((t // 0.55) % 2 == 0, 440.0, 590.0)
        else:            # wail
            f = 700.0 + 450.0 * np.sin(2 * np.pi * 0.25 * t)
        tone = dsp.oscillator(f, n, ctx.sr, [1.0, 0.5, 0.3, 0.15], rng.random())
        env = np.sin(np.pi * np.linspace(0, 1, n)) ** 1.5
        dsp.place(out, int(rng.integers(-n // 2, ctx.n)), tone * env)
    return _unit_events(out, count)
