"""Whisper audio encoder on variable-length input.

The architecture of openai-whisper's ``AudioEncoder`` (parameter names follow it, so
an openai ``.pt`` loads as is), without the fixed 30 s input: a batch is run at the
length of its longest utterance, padded frames are zeroed after the first convolution
and masked out of self-attention, so each utterance's output equals that utterance run
alone. Weights load from an HF Whisper dir (``save_pretrained``) or an openai-whisper
checkpoint (``dims`` + ``model_state_dict``).
"""

import json
import logging
import math
from pathlib import Path
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from osum.model.checkpoint import load_hf_state_dict

logger = logging.getLogger(__name__)

MAX_SOURCE_POSITIONS = 1500  # encoder frames in Whisper's 30 s window (50 Hz)


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's sinusoidal position table: (length, channels)."""
    assert channels % 2 == 0
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


def make_pad_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(batch,) lengths -> (batch, max_len) bool, True at padded positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


def conv_out_length(lengths: torch.Tensor) -> torch.Tensor:
    """Frames after Whisper's stride-2 convolution (kernel 3, padding 1)."""
    return torch.div(lengths - 1, 2, rounding_mode="floor") + 1


class MultiHeadAttention(nn.Module):
    def __init__(self, n_state: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        """x: (batch, time, n_state); key_mask: (batch, 1, 1, time) bool, True = attend."""
        batch, time, n_state = x.shape
        shape = (batch, time, self.n_head, n_state // self.n_head)
        q = self.query(x).view(shape).transpose(1, 2)
        k = self.key(x).view(shape).transpose(1, 2)
        v = self.value(x).view(shape).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
        return self.out(y.transpose(1, 2).reshape(batch, time, n_state))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, n_state: int, n_head: int, n_ffn: int):
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, n_ffn), nn.GELU(), nn.Linear(n_ffn, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.attn_ln(x), key_mask)
        return x + self.mlp(self.mlp_ln(x))


class WhisperEncoder(nn.Module):
    """Log-mel (batch, frames, n_mels) at 100 Hz -> (batch, frames', n_state) at 50 Hz.

    Args:
        n_mels: mel bins (80, or 128 for large-v3).
        n_state: model width (384 tiny, 512 base, 768 small, 1024 medium, 1280 large).
        n_head: attention heads.
        n_layer: Transformer blocks.
        n_ffn: feed-forward width (None: 4 x n_state, every Whisper size's).
        n_ctx: positions of the table (1500 = 30 s).
        init: optional path to an HF Whisper dir or an openai-whisper ``.pt``; its
            dims override the ones given, and its weights are loaded.
        gradient_checkpointing: recompute block activations in backward.
    """

    def __init__(
        self,
        n_mels: int = 80,
        n_state: int = 1024,
        n_head: int = 16,
        n_layer: int = 24,
        n_ffn: int | None = None,
        n_ctx: int = MAX_SOURCE_POSITIONS,
        init: str | None = None,
        gradient_checkpointing: bool = False,
    ):
        super().__init__()
        state = None
        if init is not None:
            dims, state = load_whisper_encoder_checkpoint(init)
            n_mels, n_state, n_head, n_layer, n_ffn, n_ctx = (
                dims["n_mels"],
                dims["n_state"],
                dims["n_head"],
                dims["n_layer"],
                dims["n_ffn"],
                dims["n_ctx"],
            )
        n_ffn = n_ffn or 4 * n_state
        self.n_mels, self.n_state, self.n_ffn, self.n_ctx = n_mels, n_state, n_ffn, n_ctx
        self.init = init
        self.gradient_checkpointing = gradient_checkpointing
        self.conv1 = nn.Conv1d(n_mels, n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(n_ctx, n_state))
        self.blocks = nn.ModuleList(
            ResidualAttentionBlock(n_state, n_head, n_ffn) for _ in range(n_layer)
        )
        self.ln_post = nn.LayerNorm(n_state)
        if state is not None:
            self.load_state_dict(state, strict=True)
            logger.info(f"Whisper encoder loaded from {init}")

    def output_size(self) -> int:
        return self.n_state

    def forward(
        self, feats: torch.Tensor, feats_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """feats: (batch, frames, n_mels); returns (batch, frames', n_state), lengths'."""
        batch, frames, n_mels = feats.shape
        if n_mels != self.n_mels:
            raise ValueError(f"encoder expects {self.n_mels} mel bins, got {n_mels}")
        out_lengths = conv_out_length(feats_lengths)
        if int(out_lengths.max()) > self.n_ctx:
            raise ValueError(
                f"input of {int(feats_lengths.max())} frames exceeds the encoder's "
                f"{self.n_ctx * 2} frames ({self.n_ctx * 2 // 100} s); split it into chunks"
            )
        pad = make_pad_mask(feats_lengths, frames)  # (batch, frames)
        x = feats.transpose(1, 2).masked_fill(pad[:, None, :], 0.0)
        x = F.gelu(self.conv1(x))
        # zero the padded frames so the stride-2 conv sees what a lone utterance sees
        x = x.masked_fill(pad[:, None, :], 0.0)
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # (batch, frames', n_state)
        x = x + self.positional_embedding[: x.shape[1]].to(x.dtype)
        key_mask = None
        if int(out_lengths.min()) < x.shape[1]:
            key_mask = ~make_pad_mask(out_lengths, x.shape[1])[:, None, None, :]
        for block in self.blocks:
            if self.gradient_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(block, x, key_mask, use_reentrant=False)
            else:
                x = block(x, key_mask)
        return self.ln_post(x), out_lengths


# HF WhisperModel encoder parameter names -> the names used here (openai-whisper's).
_HF_TO_OPENAI = [
    ("embed_positions.weight", "positional_embedding"),
    ("self_attn.q_proj", "attn.query"),
    ("self_attn.k_proj", "attn.key"),
    ("self_attn.v_proj", "attn.value"),
    ("self_attn.out_proj", "attn.out"),
    ("self_attn_layer_norm", "attn_ln"),
    ("final_layer_norm", "mlp_ln"),
    ("fc1", "mlp.0"),
    ("fc2", "mlp.2"),
    ("layers.", "blocks."),
]


def _hf_key_to_openai(key: str) -> str:
    if key == "layer_norm.weight" or key == "layer_norm.bias":
        return key.replace("layer_norm", "ln_post")
    for hf, ours in _HF_TO_OPENAI:
        key = key.replace(hf, ours)
    return key


def load_whisper_encoder_checkpoint(path: str) -> Tuple[Dict[str, int], Dict[str, torch.Tensor]]:
    """Read encoder dims and weights from an HF Whisper dir or an openai-whisper ``.pt``."""
    p = Path(path)
    if p.is_dir():
        config_file = p / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(
                f"Whisper encoder dir {p} has no config.json (expected an HF Whisper model "
                "saved with save_pretrained)"
            )
        cfg = json.loads(config_file.read_text())
        if cfg.get("model_type") != "whisper":
            raise ValueError(
                f"{config_file}: model_type is {cfg.get('model_type')!r}, not 'whisper'"
            )
        dims = dict(
            n_mels=cfg["num_mel_bins"],
            n_state=cfg["d_model"],
            n_head=cfg["encoder_attention_heads"],
            n_layer=cfg["encoder_layers"],
            n_ffn=cfg["encoder_ffn_dim"],
            n_ctx=cfg["max_source_positions"],
        )
        state = load_hf_state_dict(p, prefixes=("model.encoder.", "encoder."))
        return dims, {_hf_key_to_openai(k): v for k, v in state.items()}
    if p.is_file():
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or "dims" not in ckpt or "model_state_dict" not in ckpt:
            raise ValueError(
                f"{p}: not an openai-whisper checkpoint (expected a dict with 'dims' and "
                "'model_state_dict')"
            )
        d = ckpt["dims"]
        state = {
            k[len("encoder.") :]: v
            for k, v in ckpt["model_state_dict"].items()
            if k.startswith("encoder.")
        }
        ffn = state.get("blocks.0.mlp.0.weight")  # openai's dims do not name the width
        dims = dict(
            n_mels=d["n_mels"],
            n_state=d["n_audio_state"],
            n_head=d["n_audio_head"],
            n_layer=d["n_audio_layer"],
            n_ffn=int(ffn.shape[0]) if ffn is not None else None,
            n_ctx=d["n_audio_ctx"],
        )
        return dims, state
    raise FileNotFoundError(
        f"Whisper encoder checkpoint {p} does not exist (expected an HF Whisper dir or an "
        "openai-whisper .pt file)"
    )
