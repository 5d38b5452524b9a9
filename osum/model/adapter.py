"""The OSUM adapter: 50 Hz encoder frames -> 12.5 Hz vectors of the LLM's width.

Three parts, named so that the released OSUM checkpoint maps onto them:
  down_sample_2       conv subsampling x4 (left padding 2, Conv1d k3 s1/s2/s2, GELU)
  speech_transformer  a small pre-norm Transformer encoder (WeNet conventions)
  speech_llama_proj   Linear to the LLM hidden size
"""

import math
from typing import Tuple

import torch
from torch import nn

from osum.model.encoder import make_pad_mask


class ConvSubsampling4(nn.Module):
    """(batch, time, dim) -> (batch, ceil(ceil(time / 2) / 2), dim); causal (left) padding."""

    def __init__(self, dim: int):
        super().__init__()
        layers = []
        for stride in (1, 2, 2):
            layers += [nn.ConstantPad1d((2, 0), 0.0), nn.Conv1d(dim, dim, 3, stride), nn.GELU()]
        self.conv = nn.Sequential(*layers)  # convolutions at indices 1, 4, 7

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        # left padding only: a frame never sees later (possibly padded) frames
        y = self.conv(x.transpose(1, 2)).transpose(1, 2)
        lengths = torch.div(lengths + 1, 2, rounding_mode="floor")
        lengths = torch.div(lengths + 1, 2, rounding_mode="floor")
        return y, lengths


def wenet_sinusoids(length: int, d_model: int) -> torch.Tensor:
    """WeNet's absolute positional table: (length, d_model), sines in the even channels and
    cosines in the odd ones (Whisper's table, :func:`osum.model.encoder.sinusoids`, puts them in
    two halves)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model)
    )
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe


class PositionalEncoding(nn.Module):
    """Input scaled by sqrt(d_model), then a sinusoidal table added (WeNet's absolute PE),
    times ``pe_scale`` (1 in WeNet and OSUM). The table is computed, never saved."""

    def __init__(self, d_model: int, dropout: float, max_len: int = 5000, pe_scale: float = 1.0):
        super().__init__()
        self.xscale = math.sqrt(d_model)
        self.register_buffer("pe", wenet_sinusoids(max_len, d_model) * pe_scale, persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.pe.shape[0]:
            raise ValueError(
                f"{x.shape[1]} frames exceed the positional table ({self.pe.shape[0]})"
            )
        return self.dropout(x * self.xscale + self.pe[: x.shape[1]].to(x.dtype))


class LinearEmbed(nn.Module):
    def __init__(self, idim: int, odim: int, dropout: float, pe_scale: float = 1.0):
        super().__init__()
        self.out = nn.Sequential(
            nn.Linear(idim, odim), nn.LayerNorm(odim, eps=1e-5), nn.Dropout(dropout)
        )
        self.pos_enc = PositionalEncoding(odim, dropout, pe_scale=pe_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pos_enc(self.out(x))


class MultiHeadedAttention(nn.Module):
    def __init__(self, n_head: int, n_feat: int, dropout: float):
        super().__init__()
        self.h, self.d_k, self.dropout = n_head, n_feat // n_head, dropout
        self.linear_q = nn.Linear(n_feat, n_feat)
        self.linear_k = nn.Linear(n_feat, n_feat)
        self.linear_v = nn.Linear(n_feat, n_feat)
        self.linear_out = nn.Linear(n_feat, n_feat)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """x: (batch, time, n_feat); key_mask: (batch, 1, 1, time), True = attend."""
        batch, time, _ = x.shape
        q, k, v = (
            lin(x).view(batch, time, self.h, self.d_k).transpose(1, 2)
            for lin in (self.linear_q, self.linear_k, self.linear_v)
        )
        y = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=key_mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.linear_out(y.transpose(1, 2).reshape(batch, time, -1))


class PositionwiseFeedForward(nn.Module):
    def __init__(self, idim: int, hidden: int, dropout: float):
        super().__init__()
        self.w_1 = nn.Linear(idim, hidden)
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.w_2 = nn.Linear(hidden, idim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.dropout(self.activation(self.w_1(x))))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, size: int, n_head: int, ffn: int, dropout: float, attn_dropout: float):
        super().__init__()
        self.self_attn = MultiHeadedAttention(n_head, size, attn_dropout)
        self.feed_forward = PositionwiseFeedForward(size, ffn, dropout)
        self.norm1 = nn.LayerNorm(size, eps=1e-5)
        self.norm2 = nn.LayerNorm(size, eps=1e-5)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.self_attn(self.norm1(x), key_mask))
        return x + self.dropout(self.feed_forward(self.norm2(x)))


class SpeechTransformer(nn.Module):
    def __init__(self, idim, size, n_head, ffn, n_layer, dropout, attn_dropout, pe_scale=1.0):
        super().__init__()
        self.embed = LinearEmbed(idim, size, dropout, pe_scale)
        self.encoders = nn.ModuleList(
            TransformerEncoderLayer(size, n_head, ffn, dropout, attn_dropout)
            for _ in range(n_layer)
        )
        self.after_norm = nn.LayerNorm(size, eps=1e-5)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        key_mask = ~make_pad_mask(lengths, x.shape[1])[:, None, None, :]
        x = self.embed(x)
        for layer in self.encoders:
            x = layer(x, key_mask)
        return self.after_norm(x)


class OSUMAdapter(nn.Module):
    """Encoder output (batch, T, input_size) at 50 Hz -> (batch, ~T/4, output_size) at 12.5 Hz.

    Args:
        input_size: encoder width (1024 for Whisper-medium).
        output_size: LLM hidden size (3584 for Qwen2-7B).
        attention_heads, linear_units, num_blocks: the adapter Transformer (4, 2560, 4).
        dropout_rate, attention_dropout_rate: dropout inside the adapter Transformer.
        pos_enc_scale: factor on the sinusoidal table added to the Transformer's input
            (1, WeNet's, by default; the table has no weights, so any value loads the
            same checkpoint). Larger values make absolute time easier to read.
    """

    def __init__(
        self,
        input_size: int = 1024,
        output_size: int = 3584,
        attention_heads: int = 4,
        linear_units: int = 2560,
        num_blocks: int = 4,
        dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.0,
        pos_enc_scale: float = 1.0,
    ):
        super().__init__()
        self._output_size = output_size
        self.down_sample_2 = ConvSubsampling4(input_size)
        self.speech_transformer = SpeechTransformer(
            input_size,
            input_size,
            attention_heads,
            linear_units,
            num_blocks,
            dropout_rate,
            attention_dropout_rate,
            pos_enc_scale,
        )
        self.speech_llama_proj = nn.Linear(input_size, output_size)

    def output_size(self) -> int:
        return self._output_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x, lengths = self.down_sample_2(x, lengths)
        x = self.speech_transformer(x, lengths)
        return self.speech_llama_proj(x), lengths
