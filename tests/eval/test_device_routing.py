"""DCASE2025's one model per device: which model a clip goes to, and the checks on the device models."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asc.errors import InputError
from asc.eval.device_routing import (check_same_architecture, model_for_device, parse_device_models,
                                     routed_probs, routing_table)


def test_device_models_are_parsed_from_device_equals_path():
    models = parse_device_models(["a=exp/a/model.pt", "s1=/abs/s1.pt"])
    assert {d: str(p) for d, p in models.items()} == {"a": "exp/a/model.pt", "s1": "/abs/s1.pt"}
    for bad in (["a"], ["=x.pt"], ["a="], ["a=x.pt", "a=y.pt"], ["unknown=x.pt"], ["a b=x.pt"]):
        with pytest.raises(ValueError, match="device model"):
            parse_device_models(bad)


def test_a_device_without_a_model_of_its_own_gets_the_general_model():
    models = {"a": "a.pt", "b": "b.pt"}
    assert model_for_device("a", models, "general.pt") == "a.pt"
    for device in ("s4", "unknown", "", None, "c"):
        assert model_for_device(device, models, "general.pt") == "general.pt"
    assert routing_table(["b", "s4", "b"], models, "g.pt") == {"b": "b.pt", "s4": "g.pt"}


def test_each_clip_takes_the_probabilities_of_its_devices_model():
    devices = ["a", "s4", "a", "b"]
    general = np.full((4, 3), 1 / 3)
    own = {"a": np.array([[1.0, 0, 0], [0, 1.0, 0]]), "b": np.array([[0, 0, 1.0]])}
    asked = []

    def predict_device(device, rows):
        asked.append((device, list(rows)))
        return own.get(device)

    probs = routed_probs(devices, general, predict_device)
    np.testing.assert_array_equal(probs, [[1, 0, 0], general[1], [0, 1, 0], [0, 0, 1]])
    assert sorted(asked) == [("a", [0, 2]), ("b", [3]), ("s4", [1])]      # each model on its clips only
    with pytest.raises(ValueError, match="device a"):
        routed_probs(devices, general, lambda d, rows: np.zeros((1, 3)) if d == "a" else None)


def test_a_device_model_must_have_the_general_models_architecture():
    general = {"conv.weight": torch.zeros(8, 1, 3, 3), "fc.weight": torch.zeros(10, 8)}
    check_same_architecture(general, {"conv.weight": torch.ones(8, 1, 3, 3), "fc.weight": torch.ones(10, 8)}, "d.pt")
    with pytest.raises(InputError, match="d.pt.*other layer widths.*conv.weight"):
        check_same_architecture(general, {"conv.weight": torch.zeros(6, 1, 3, 3), "fc.weight": torch.zeros(10, 8)},
                                "d.pt")
    with pytest.raises(InputError, match="other layers"):
        check_same_architecture(general, {"conv.weight": torch.zeros(8, 1, 3, 3)}, "d.pt")
