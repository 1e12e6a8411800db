"""PaSST, the transformer teacher (Koutini et al., 2022, "Efficient Training of Audio Transformers with
Patchout").

A ViT over overlapping 16x16 patches of the log-mel spectrogram (stride 10), with separate frequency and
time positional embeddings, a class and a distillation token, and structured patchout: in training,
whole rows (frequency) and columns (time) of the patch grid are dropped, which regularizes and makes
training cheaper; evaluation sees every patch.

Parameter names and shapes follow the official AudioSet checkpoints (passt-s-f128-p16-s10-ap.476-swa.pt
and siblings), so such a file loads with strict key matching through
`asc.models.checkpoints.load_pretrained`. Facts taken from the official code (kkoutini/PaSST,
models/passt.py) and kept here:
  - the patch embedding is a bare Conv2d (no norm), the qkv projection has a bias, the block norms and
    the final norm are LayerNorm(eps=1e-6), the head is LayerNorm (default eps) + Linear;
  - the class and distillation tokens get `new_pos_embed`, the patches get `freq_new_pos_embed` +
    `time_new_pos_embed`; the time embedding is cropped to the input length, at a random offset in
    training and from the start in evaluation;
  - the logits are `head((cls + dist) / 2)`: the mean of the two tokens goes through the one head.
    `head_dist` exists in the checkpoints but the official forward never uses it; it is kept (frozen)
    only so that those files load strictly.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from asc.models import register


class PatchEmbed(nn.Module):
    """Overlapping patches: a strided convolution giving one embedding per patch, [B, E, F', T']."""

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int, stride: int):
        super().__init__()
        self.patch_size = patch_size
        self.stride = stride
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=stride)

    def grid(self, n: int) -> int:
        """Number of patches along an input axis of length `n`."""
        return (n - self.patch_size) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (the official parameter layout)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        x = x.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class Mlp(nn.Module):
    """The transformer's feed-forward part: fc1, GELU, fc2."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth: in training, drop a residual branch for whole examples, rescaling the rest."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, drop: float,
                 attn_drop: float, drop_path: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


@register("passt")
class PaSST(nn.Module):
    """PaSST: log-mel [B, 1, n_mels, T] (T <= max_frames) to logits [B, n_classes].

    The defaults are PaSST-S as in the official AudioSet checkpoints (768/12/12, patch 16, stride 10,
    128 mels x 998 frames: 12 x 99 patches) with this task's 10 classes. `s_patchout_f` / `s_patchout_t`
    are the numbers of frequency rows / time columns of the patch grid dropped in training.
    """

    # Parameter-name prefixes of the classifier; load_pretrained keeps them as initialized when a
    # checkpoint has another number of classes (AudioSet: 527).
    pretrained_heads = ("head.1.", "head_dist.")

    def __init__(self, n_classes: int = 10, n_mels: int = 128, max_frames: int = 998,
                 in_channels: int = 1, embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, patch_size: int = 16,
                 patch_stride: int = 10, s_patchout_f: int = 0, s_patchout_t: int = 0,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0):
        super().__init__()
        self.patch_embed = PatchEmbed(in_channels, embed_dim, patch_size, patch_stride)
        self.freq_patches = self.patch_embed.grid(n_mels)
        self.time_patches = self.patch_embed.grid(max_frames)
        if self.freq_patches < 1 or self.time_patches < 1:
            raise ValueError(f"input {n_mels} x {max_frames} is smaller than one {patch_size}x{patch_size} patch")
        if not 0 <= s_patchout_f < self.freq_patches:
            raise ValueError(f"s_patchout_f={s_patchout_f} must be in [0, {self.freq_patches}) "
                             f"(frequency patches of {n_mels} mels)")
        if s_patchout_t < 0:
            raise ValueError(f"s_patchout_t={s_patchout_t} must be >= 0")
        self.n_mels = n_mels
        self.s_patchout_f = s_patchout_f
        self.s_patchout_t = s_patchout_t

        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, embed_dim))
        self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, embed_dim, self.freq_patches, 1))
        self.time_new_pos_embed = nn.Parameter(torch.zeros(1, embed_dim, 1, self.time_patches))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # stochastic depth rule
        self.blocks = nn.Sequential(*[
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate, rates[i])
            for i in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(embed_dim), nn.Linear(embed_dim, n_classes))
        self.head_dist = nn.Linear(embed_dim, n_classes)
        self._init_weights()
        # Unused by forward (as in the official model); without a gradient it must not be trainable,
        # or DistributedDataParallel stops on a parameter that never received one.
        self.head_dist.requires_grad_(False)

    def _init_weights(self) -> None:
        for p in (self.cls_token, self.dist_token, self.new_pos_embed, self.freq_new_pos_embed,
                  self.time_new_pos_embed):
            nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """Names of the token and position parameters, which the official recipe trains without weight decay."""
        return {"cls_token", "dist_token", "new_pos_embed", "freq_new_pos_embed", "time_new_pos_embed"}

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The input sequence of the transformer: [cls, dist, patches...] with positions, patchout applied."""
        if x.dim() != 4:
            raise ValueError(f"PaSST expects [batch, channels, mels, frames], got shape {tuple(x.shape)}")
        mels, frames = x.shape[2], x.shape[3]
        x = self.patch_embed(x)  # [B, E, F', T']
        f, t = x.shape[2], x.shape[3]
        if f != self.freq_patches:
            raise ValueError(f"input of {mels} mel bins gives {f} frequency patches; the model was built "
                             f"for n_mels={self.n_mels} ({self.freq_patches} patches)")
        if t > self.time_patches:
            raise ValueError(f"input of {frames} frames gives {t} time patches but the model has "
                             f"{self.time_patches} time positions; build it with a larger max_frames")
        x = x + self._time_positions(t) + self.freq_new_pos_embed
        if self.training:
            x = self._structured_patchout(x)
        x = x.flatten(2).transpose(1, 2)  # [B, F'*T', E]
        b = x.shape[0]
        cls = self.cls_token.expand(b, -1, -1) + self.new_pos_embed[:, :1]
        dist = self.dist_token.expand(b, -1, -1) + self.new_pos_embed[:, 1:]
        return torch.cat((cls, dist, x), dim=1)

    def _time_positions(self, t: int) -> torch.Tensor:
        # Shorter inputs see a window of the time embedding: random in training, the start in evaluation.
        offset = 0
        if self.training and t < self.time_patches:
            offset = int(torch.randint(self.time_patches - t + 1, (1,)).item())
        return self.time_new_pos_embed[:, :, :, offset:offset + t]

    def _structured_patchout(self, x: torch.Tensor) -> torch.Tensor:
        f, t = x.shape[2], x.shape[3]
        if self.s_patchout_t:
            if self.s_patchout_t >= t:
                raise ValueError(f"s_patchout_t={self.s_patchout_t} would drop all {t} time patches")
            keep = torch.randperm(t)[: t - self.s_patchout_t].sort().values.to(x.device)
            x = x[:, :, :, keep]
        if self.s_patchout_f:
            keep = torch.randperm(f)[: f - self.s_patchout_f].sort().values.to(x.device)
            x = x[:, :, keep, :]
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The clip embedding [B, E]: mean of the normalized class and distillation tokens."""
        x = self.blocks(self.pos_drop(self.tokens(x)))
        x = self.norm(x)
        return (x[:, 0] + x[:, 1]) / 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
