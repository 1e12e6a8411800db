"""Corpora (TAU22 format, the embedded generator), Kaldi-style data directories, the HDF5 feature
store, and the datasets that read it."""
