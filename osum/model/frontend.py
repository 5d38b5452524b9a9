"""Whisper log-mel frontend, batched, on the model's device.

For every utterance in a batch the output equals openai-whisper's
``log_mel_spectrogram`` computed on that utterance alone: the STFT's reflect
padding is applied at each utterance's own end and the dynamic-range clamp
(max - 8) uses that utterance's own maximum, so padding never changes a value.
"""

from typing import Tuple

import torch
import torchaudio
from espnet2.asr.frontend.abs_frontend import AbsFrontend

SAMPLE_RATE = 16000  # Hz
N_FFT = 400  # 25 ms window
HOP_LENGTH = 160  # 10 ms hop: 100 frames a second
LOG_DYNAMIC_RANGE = 8.0  # log10 units kept below the utterance maximum


def mel_filters(n_mels: int) -> torch.Tensor:
    """Slaney-style mel filterbank as used by Whisper: (n_mels, N_FFT // 2 + 1)."""
    fb = torchaudio.functional.melscale_fbanks(
        n_freqs=N_FFT // 2 + 1,
        f_min=0.0,
        f_max=SAMPLE_RATE / 2,
        n_mels=n_mels,
        sample_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return fb.T.contiguous()


def num_frames(num_samples: torch.Tensor) -> torch.Tensor:
    """Number of log-mel frames Whisper yields for ``num_samples`` samples."""
    return torch.div(num_samples, HOP_LENGTH, rounding_mode="floor")


class WhisperFrontend(AbsFrontend):
    """Raw 16 kHz audio (batch, samples) -> Whisper log-mel (batch, frames, n_mels)."""

    def __init__(self, n_mels: int = 80, fs: int = SAMPLE_RATE):
        super().__init__()
        if fs != SAMPLE_RATE:
            raise ValueError(f"WhisperFrontend needs {SAMPLE_RATE} Hz audio, got fs={fs}")
        if n_mels not in (80, 128):
            raise ValueError(f"Whisper uses 80 or 128 mel bins, got n_mels={n_mels}")
        self.n_mels = n_mels
        self.register_buffer("mel_filters", mel_filters(n_mels), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def output_size(self) -> int:
        return self.n_mels

    def forward(
        self, input: torch.Tensor, input_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """input: (batch, samples) float audio in [-1, 1]; input_lengths: (batch,).

        Returns feats (batch, frames, n_mels), zero beyond each length, and
        feats_lengths (batch,) = input_lengths // HOP_LENGTH. Computed in float32 whatever
        the autocast or model dtype.
        """
        with torch.autocast(device_type=input.device.type, enabled=False):
            return self._log_mel(input.float(), input_lengths)

    def _log_mel(self, audio: torch.Tensor, input_lengths: torch.Tensor):
        batch, max_len = audio.shape
        lengths = input_lengths.to(audio.device).long()
        pad = N_FFT // 2
        if int(lengths.min()) <= pad:
            raise ValueError(f"audio of {int(lengths.min())} samples is too short (> {pad} needed)")
        # Reflect-pad every utterance at its own boundaries (as torch.stft(center=True)
        # does for a single utterance), by gathering mirrored sample indices.
        idx = torch.arange(-pad, max_len + pad, device=audio.device).expand(batch, -1)
        last = (lengths - 1).unsqueeze(1)
        idx = idx.abs()  # mirror at 0
        idx = torch.where(idx > last, 2 * last - idx, idx)  # mirror at the end
        idx = idx.clamp(min=0)  # positions far beyond a short utterance: masked below
        padded = torch.gather(audio, 1, idx)
        spec = torch.stft(
            padded,
            N_FFT,
            HOP_LENGTH,
            window=self.window.to(audio.device, torch.float32),
            center=False,
            return_complex=True,
        )  # (batch, N_FFT // 2 + 1, max_len // HOP_LENGTH + 1)
        power = spec[..., :-1].abs() ** 2
        mel = self.mel_filters.to(audio.device, torch.float32) @ power  # (batch, n_mels, frames)
        log_spec = torch.clamp(mel, min=1e-10).log10()

        feats_lengths = num_frames(lengths)
        frames = log_spec.shape[-1]
        valid = torch.arange(frames, device=audio.device)[None, :] < feats_lengths[:, None]
        masked = log_spec.masked_fill(~valid[:, None, :], float("-inf"))
        peak = masked.amax(dim=(1, 2), keepdim=True)
        log_spec = torch.maximum(log_spec, peak - LOG_DYNAMIC_RANGE)
        log_spec = (log_spec + 4.0) / 4.0
        log_spec = log_spec.masked_fill(~valid[:, None, :], 0.0)
        return log_spec.transpose(1, 2), feats_lengths
