"""8-bit Rep-Mobile: quantisation-aware training of the fused network and its int8 deployable form.

The DCASE limit is 128 kB of parameters at their storage precision; at 8 bits it holds twice the
parameters of float16. The deployment form of Rep-Mobile (every site fused into one convolution
with bias) is made quantisation-aware with torch.ao.quantization's FX graph mode and the x86
(fbgemm) engine's default QAT config: per-channel symmetric int8 weights, per-tensor affine uint8
activations, fake-quantised during training so that the network learns around the rounding.

    rep_mobile_int8       registered model: the fused Rep-Mobile of the given options, prepared for
                          QAT (a torch.fx GraphModule); the trainer fine-tunes it like any model
    int8_state(model)     the state dict to store: every weight as an int8 tensor (its scales and
                          zero points beside it, as the QAT module keeps them); biases stay float32
    load_int8(...)        the stored state -> a converted int8 network (quantized::conv2d kernels)
    int8_memory(model)    the bytes DCASE counts for it (see there)

A stored int8 weight w_q is exactly what the QAT network computed with: w = (w_q - zp) * scale.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn as nn

from asc.models import build_model, register, reparameterize

ENGINE = "x86"                       # fbgemm kernels with x86-specific tuning
INPUT_SHAPE = (1, 256, 65)           # one clip of the student front end (the graph is traced on it)


def qconfig_mapping():
    """The x86 engine's default QAT config: per-channel int8 weights, uint8 activations."""
    from torch.ao.quantization import get_default_qat_qconfig_mapping

    return get_default_qat_qconfig_mapping(ENGINE)


def prepare_qat(fused: nn.Module, input_shape: Sequence[int] = INPUT_SHAPE) -> nn.Module:
    """The fused float network with fake quantisation inserted (training mode)."""
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    torch.backends.quantized.engine = ENGINE
    example = (torch.zeros(2, *input_shape),)
    return prepare_qat_fx(copy.deepcopy(fused).float().train(), qconfig_mapping(), example)


@register("rep_mobile_int8")
def rep_mobile_int8(**options) -> nn.Module:
    """The fused Rep-Mobile of `options` (rep_mobile's), prepared for quantisation-aware training."""
    return prepare_qat(reparameterize(build_model("rep_mobile", **options)))


def from_float(fused_or_training: nn.Module) -> nn.Module:
    """The QAT form of a trained float Rep-Mobile (training or fused form), starting from its weights."""
    return prepare_qat(reparameterize(fused_or_training))


def weight_sites(model: nn.Module) -> dict[str, nn.Module]:
    """The convolutions and linear layers carrying a weight fake-quantiser, by module name."""
    return {name: m for name, m in model.named_modules() if hasattr(m, "weight_fake_quant")}


def int8_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The QAT network's state dict with every quantised weight replaced by its int8 values."""
    model = copy.deepcopy(model).eval()
    state = model.state_dict()
    for name, module in weight_sites(model).items():
        fq = module.weight_fake_quant
        scale, zero = fq.scale.detach(), fq.zero_point.detach()
        q = torch.fake_quantize_per_channel_affine if scale.numel() > 1 else None
        w = module.weight.detach()
        if q is not None:
            shape = (-1,) + (1,) * (w.dim() - 1)
            ints = torch.clamp(torch.round(w / scale.view(shape)) + zero.view(shape), fq.quant_min, fq.quant_max)
        else:
            ints = torch.clamp(torch.round(w / scale) + zero, fq.quant_min, fq.quant_max)
        state[f"{name}.weight"] = ints.to(torch.int8)
    return state


def dequantized(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """`state` with its int8 weights back in float32: (w_q - zero_point) * scale, per channel."""
    out = dict(state)
    for name in weight_sites(model):
        ints = state[f"{name}.weight"]
        scale = state[f"{name}.weight_fake_quant.scale"]
        zero = state[f"{name}.weight_fake_quant.zero_point"]
        shape = (-1,) + (1,) * (ints.dim() - 1) if scale.numel() > 1 else ()
        out[f"{name}.weight"] = (ints.float() - zero.view(shape).float()) * scale.view(shape)
    return out


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode with the observers stopped: the scales stay those learnt in training."""
    from torch.ao.quantization import disable_observer

    model.eval()
    model.apply(disable_observer)
    return model


def convert(model: nn.Module) -> nn.Module:
    """The int8 network (quantized kernels of the x86 engine) of a frozen QAT network."""
    from torch.ao.quantization.quantize_fx import convert_fx

    torch.backends.quantized.engine = ENGINE
    return convert_fx(freeze(copy.deepcopy(model)))


def load_int8(options: dict, state: dict[str, torch.Tensor]) -> nn.Module:
    """The int8 network of a stored int8 state (int8_state) of rep_mobile_int8 with `options`."""
    qat = rep_mobile_int8(**options)
    qat.load_state_dict(dequantized(state, qat))
    return convert(qat)


def int8_memory(model: nn.Module) -> dict:
    """Bytes of parameters of the int8 deployable form, as counted for the DCASE limit.

    What is counted: every weight at 1 byte; every bias at 4 bytes (the x86 kernels keep biases in
    float32); each weight channel's scale (4 bytes, float32) and zero point (1 byte); each quantised
    activation's scale and zero point (5 bytes). DCASE counts the parameters a system stores at the
    precision it stores them in; the scales and zero points are stored numbers the int8 network
    cannot run without, so they are counted too: 9 bytes per output channel with the bias, ~15-20 % of
    a Rep-Mobile's total. Zero points of the symmetric weights are all 0 but stored, so counted.
    """
    weights = biases = channels = 0
    for module in weight_sites(model).values():
        weights += module.weight.numel()
        biases += module.bias.numel() if module.bias is not None else 0
        # one scale per output channel (per-channel schemes; counted from the weight, since the
        # fake-quantiser holds a single placeholder scale until it has seen data)
        channels += module.weight.shape[0] if _per_channel(module.weight_fake_quant) else 1
    activations = sum(1 for name, m in model.named_modules()
                      if name.startswith("activation_post_process") and hasattr(m, "scale"))
    total = weights + 4 * biases + 5 * channels + 5 * activations
    return {"params": weights + biases, "weights_int8": weights, "biases_float32": biases,
            "weight_channels": channels, "quantised_activations": activations, "param_bytes": total}


def _per_channel(fake_quant: nn.Module) -> bool:
    """Whether a weight fake-quantiser quantises each output channel with its own scale."""
    return fake_quant.qscheme in (torch.per_channel_symmetric, torch.per_channel_affine)
