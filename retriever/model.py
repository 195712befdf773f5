"""The retriever's networks: image encoders per scale, fusion, heads, text adapters.

Following open_clip's split, the model *encodes* and owns its learned temperature; it does
not compute the loss (:mod:`.loss`).

* :class:`SmallEncoder3D` — the ``cpu-small`` encoder: a stride-2 stem and stride-2 residual
  stages (16-32-64-128 channels), then the feature map is average-pooled to ``pooled_size``³
  (2³ for a 32³ patch) and *flattened*, not globally pooled, so that the layout of the
  patch (what lies left of, above, in front of the lesion) reaches the head; global pooling
  would throw away exactly the cue that tells "Rib L7" from "Rib R7".
* :func:`monai_resnet` — the ``paper`` encoder: a MONAI ResNet (3-D, 4 input channels,
  never pretrained, nothing downloaded) up to its last stage, pooled and flattened the same
  way.
* :class:`Retriever` — one encoder per scale (or one shared; only the local one when
  ``use_context`` is off, the ablation), a fusion MLP, a coarse and a
  fine projection head into the joint space of ``embed_dim``, one :class:`TextAdapter` per
  level on top of the frozen 384-d sentence embeddings, and ``logit_scale`` (log of the
  inverse temperature), clamped to ``max_logit_scale``.  A location added to the ontology
  later only needs its frozen embedding: the adapter maps it, no retraining.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

LEVELS = ("coarse", "fine")


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm3d(cout),
    )


class ResStage(nn.Module):
    """conv(s2)-BN-ReLU-conv-BN plus a 1×1×1 strided shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 2):
        super().__init__()
        self.a = _conv_bn(cin, cout, stride)
        self.b = _conv_bn(cout, cout)
        self.skip = nn.Sequential(
            nn.Conv3d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm3d(cout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.b(F.relu(self.a(x), inplace=True)) + self.skip(x), inplace=True)


class SmallEncoder3D(nn.Module):
    """A small 3-D CNN: stem (s2), residual stages (s2), a light last stage (s2), pooled to
    ``pooled_size``³ and flattened.  ``out_features`` = last channels × pooled_size³."""

    def __init__(self, in_channels: int = 4, channels=(16, 32, 64, 128), pooled_size: int = 2):
        super().__init__()
        c = list(channels)
        layers: list[nn.Module] = [
            nn.Conv3d(in_channels, c[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm3d(c[0]),
            nn.ReLU(inplace=True),
        ]
        for cin, cout in itertools.pairwise(c[:-1]):
            layers.append(ResStage(cin, cout))
        if len(c) > 1:  # the last stage is a single strided conv: most parameters live here
            layers += [*_conv_bn(c[-2], c[-1], 2), nn.ReLU(inplace=True)]
        layers.append(nn.AdaptiveAvgPool3d(pooled_size))
        self.body = nn.Sequential(*layers)
        self.out_features = c[-1] * pooled_size**3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)


class _MonaiTrunk(nn.Module):
    def __init__(self, net: nn.Module, pooled_size: int, out_channels: int):
        super().__init__()
        self.net = net
        self.pool = nn.AdaptiveAvgPool3d(pooled_size)
        self.out_features = out_channels * pooled_size**3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n.maxpool(n.act(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        return self.pool(x).flatten(1)


def monai_resnet(name: str, in_channels: int, pooled_size: int) -> nn.Module:
    """A MONAI ResNet (``resnet10/18/34/50``) trunk, 3-D, never pretrained."""
    from monai.networks import nets

    net = getattr(nets, name)(
        pretrained=False,
        spatial_dims=3,
        n_input_channels=in_channels,
        feed_forward=False,
        conv1_t_stride=2,
    )
    out_ch = (
        net.layer4[-1].conv3.out_channels
        if hasattr(net.layer4[-1], "conv3")
        else (net.layer4[-1].conv2.out_channels)
    )
    return _MonaiTrunk(net, pooled_size, out_ch)


def build_encoder(cfg: ModelConfig, in_channels: int) -> nn.Module:
    if cfg.encoder == "small":
        return SmallEncoder3D(in_channels, cfg.channels, cfg.pooled_size)
    return monai_resnet(cfg.encoder, in_channels, cfg.pooled_size)


class TextAdapter(nn.Module):
    """frozen text embedding (text_dim) → joint space (D): a linear map plus an MLP residual
    whose last layer starts at zero (so training starts from the linear projection)."""

    def __init__(self, text_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.linear = nn.Linear(text_dim, out_dim)
        self.mlp = nn.Sequential(nn.Linear(text_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.mlp(x)


def _mlp(n_in: int, hidden: int, dropout: float) -> nn.Sequential:
    """LayerNorm → Linear → GELU → Dropout: the fusion of scale features."""
    return nn.Sequential(
        nn.LayerNorm(n_in), nn.Linear(n_in, hidden), nn.GELU(), nn.Dropout(dropout)
    )


class ImageFeatures(NamedTuple):
    coarse: torch.Tensor  # (B, D)
    fine: torch.Tensor  # (B, D)


class Retriever(nn.Module):
    """Image and text towers of the joint space; see the module docstring."""

    @classmethod
    def from_preset(cls, preset) -> Retriever:
        """The network of a :class:`~anatloc.retriever.config.Preset` (its data decides the
        input channels)."""
        return cls(preset.model, in_channels=preset.data.in_channels)

    def __init__(self, cfg: ModelConfig, in_channels: int = 4):
        super().__init__()
        self.cfg = cfg
        self.use_context = bool(cfg.use_context)
        self.local_encoder = build_encoder(cfg, in_channels)
        f = self.local_encoder.out_features
        D = cfg.embed_dim
        self.local_proj = nn.Linear(f, D)
        # without the context scale (the ablation) the context tower does not exist at all
        self.context_encoder: nn.Module | None = None
        self.context_proj: nn.Module | None = None
        if self.use_context:
            self.context_encoder = (
                self.local_encoder if cfg.shared_encoder else build_encoder(cfg, in_channels)
            )
            self.context_proj = nn.Linear(f, D)
        n_in = 2 * D if self.use_context else D
        self.fusion = _mlp(n_in, cfg.fusion_hidden, cfg.dropout)
        #: the coarse embedding from the context alone (``coarse_from == "context"``)
        self.context_fusion = (
            _mlp(D, cfg.fusion_hidden, cfg.dropout) if cfg.coarse_from == "context" else None
        )
        self.local_dropout = float(cfg.local_dropout)
        self.heads = nn.ModuleDict({lvl: nn.Linear(cfg.fusion_hidden, D) for lvl in LEVELS})
        self.text_adapters = nn.ModuleDict(
            {lvl: TextAdapter(cfg.text_dim, cfg.text_hidden, D) for lvl in LEVELS}
        )
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.init_temperature)))
        self.max_log_scale = math.log(cfg.max_logit_scale)

    # -- towers -------------------------------------------------------------------------
    def encode_image(
        self, local: torch.Tensor, context: torch.Tensor | None = None, normalize: bool = True
    ) -> ImageFeatures:
        """(B, C, S, S, S) local and (B, C, S2, S2, S2) context patches → coarse and fine
        embeddings (B, D).  A model without the context scale ignores ``context``."""
        a = self.local_proj(self.local_encoder(local))
        if self.training and self.local_dropout > 0:
            keep = torch.rand(a.shape[0], 1, device=a.device) >= self.local_dropout
            a = a * keep.to(a.dtype)
        hc = None
        if self.context_encoder is not None:
            if context is None:
                raise ValueError("this model uses the context scale; pass the context patches")
            b = self.context_proj(self.context_encoder(context))
            h = self.fusion(torch.cat([a, b], dim=1))
            if self.context_fusion is not None:
                hc = self.context_fusion(b)
        else:
            h = self.fusion(a)
        c, f = self.heads["coarse"](h if hc is None else hc), self.heads["fine"](h)
        if normalize:
            c, f = F.normalize(c, dim=-1), F.normalize(f, dim=-1)
        return ImageFeatures(c, f)

    def encode_text(self, level: str, emb: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """(N, text_dim) frozen embeddings of a level's terms → (N, D)."""
        out = self.text_adapters[level](emb)
        return F.normalize(out, dim=-1) if normalize else out

    def scale(self) -> torch.Tensor:
        """The inverse temperature, clamped to ``max_logit_scale``."""
        return self.logit_scale.clamp(max=self.max_log_scale).exp()

    def forward(
        self,
        local: torch.Tensor,
        context: torch.Tensor,
        coarse_text: torch.Tensor,
        fine_text: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Features of both towers and the scale (the loss is computed outside)."""
        img = self.encode_image(local, context)
        return {
            "image_coarse": img.coarse,
            "image_fine": img.fine,
            "text_coarse": self.encode_text("coarse", coarse_text),
            "text_fine": self.encode_text("fine", fine_text),
            "logit_scale": self.scale(),
        }


#: modules whose forward applies ``convK`` and then directly ``bnK`` (MONAI's ResNet, its
#: ``ResNetBlock`` and ``ResNetBottleneck``; our ``_MonaiTrunk`` calls ``net.conv1``, then
#: ``net.bn1``)
_NAMED_CONV_BN = ("ResNet", "ResNetBlock", "ResNetBottleneck")


def fuse_for_inference(module: nn.Module) -> nn.Module:
    """Fold every BatchNorm that directly follows a convolution into the convolution (eval
    mode only; the same function, about a third faster on CPU): consecutive members of a
    ``Sequential``, and the ``convK``/``bnK`` pairs of MONAI's ResNet modules."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if module.training:
        raise ValueError("fuse_for_inference needs a module in eval mode")
    for child in module.children():
        fuse_for_inference(child)
    if isinstance(module, nn.Sequential):
        items = list(module._modules.items())
        for (k1, a), (k2, b) in itertools.pairwise(items):
            if isinstance(a, nn.Conv3d) and isinstance(b, nn.BatchNorm3d):
                module._modules[k1] = fuse_conv_bn_eval(a, b)
                module._modules[k2] = nn.Identity()
    elif type(module).__name__ in _NAMED_CONV_BN and type(module).__module__.startswith("monai."):
        for k in (1, 2, 3):
            a, b = getattr(module, f"conv{k}", None), getattr(module, f"bn{k}", None)
            if isinstance(a, nn.Conv3d) and isinstance(b, nn.BatchNorm3d):
                setattr(module, f"conv{k}", fuse_conv_bn_eval(a, b))
                setattr(module, f"bn{k}", nn.Identity())
    return module


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
