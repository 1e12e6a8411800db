"""The embedded default corpus: acoustic scenes generated and written in TAU22's on-disk format.

`make_corpus(cfg, out)` writes the development corpus (audio/, meta.csv, the DCASE2024 split files),
an unlabeled evaluation set and a folder of device impulse responses for augmentation. Modules:
config (options), dsp (signal tools), events (sound sources), scenes (scene models), devices
(recording devices and impulse responses), layout (recordings, devices, splits), writer (files).
"""
from asc.data.embedded.config import CorpusConfig
from asc.data.embedded.writer import make_corpus, render_recording

__all__ = ["CorpusConfig", "make_corpus", "render_recording"]
