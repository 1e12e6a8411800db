"""Scores per recording: the class probabilities of a recording's segments combined into one.

A recording cut into segments (asc.data.audio_folder) is classified once as a whole by aggregating
its segments' outputs. The default, `mean_log_prob`, averages the segments' log-probabilities and
renormalises (a geometric mean of the probabilities): the segments are several looks at one scene,
and summing their log-probabilities is the decision a classifier makes when it treats them as
independent evidence (a product of experts); the mean rather than the sum gives the same label but
keeps a recording's confidence on the scale of one segment, so its log loss stays comparable. It
lets a class that most segments rule out firmly lose even if one segment favours it. `mean_prob`
(the arithmetic mean of the probabilities) is the alternative: more forgiving of a few odd segments
(a door slam, a silent stretch), at the price of letting confident outliers pull harder.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from asc.errors import InputError

AGGREGATIONS = ("mean_log_prob", "mean_prob")
DEFAULT_AGGREGATION = "mean_log_prob"
_FLOOR = 1e-300     # log of a probability that underflowed to 0


def aggregate_probs(probs: np.ndarray, method: str = DEFAULT_AGGREGATION) -> np.ndarray:
    """One probability row [classes] from the rows [segments, classes] of one recording."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or not len(probs):
        raise ValueError(f"expected probabilities [segments, classes], found shape {probs.shape}")
    if method == "mean_prob":
        return probs.mean(axis=0)
    if method != "mean_log_prob":
        raise ValueError(f"unknown aggregation {method!r}; one of {', '.join(AGGREGATIONS)}")
    mean_log = np.log(np.maximum(probs, _FLOOR)).mean(axis=0)
    out = np.exp(mean_log - mean_log.max())
    return out / out.sum()


def group_rows(utts: Sequence[str], rec_of: dict[str, str]) -> dict[str, list[int]]:
    """Row indices of each recording's segments, recordings in sorted order."""
    rows: dict[str, list[int]] = {}
    for i, utt in enumerate(utts):
        rows.setdefault(rec_of[utt], []).append(i)
    return dict(sorted(rows.items()))


def recording_predictions(utts: Sequence[str], rec_of: dict[str, str], truth: Sequence[str], probs,
                          method: str = DEFAULT_AGGREGATION, source: str = "utt2rec"
                          ) -> tuple[list[str], list[str], np.ndarray, list[int]]:
    """(recordings, their true labels, their aggregated probabilities [R, classes], segments per
    recording) from per-segment rows; InputError if a recording's segments disagree on the label."""
    missing = [u for u in utts if u not in rec_of]
    if missing:
        raise InputError(source, f"no recording id for {len(missing)} segments (e.g. {missing[:2]})")
    probs = np.asarray(probs, dtype=np.float64)
    recs, labels, rows, counts = [], [], [], []
    for rec, index in group_rows(utts, rec_of).items():
        names = {truth[i] for i in index}
        if len(names) > 1:
            raise InputError(source, f"recording {rec}: its segments carry different labels {sorted(names)}")
        recs.append(rec)
        labels.append(names.pop())
        rows.append(aggregate_probs(probs[index], method))
        counts.append(len(index))
    return recs, labels, np.stack(rows), counts
