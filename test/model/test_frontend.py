import numpy as np
import pytest
import torch
import whisper

from osum.model.frontend import HOP_LENGTH, WhisperFrontend


def _audio(seconds, seed):
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * 16000)
    t = torch.arange(n) / 16000.0
    # a chirp plus noise: loud and quiet parts, so the max-8 clamp is exercised
    x = 0.3 * torch.sin(2 * np.pi * (200 + 300 * t) * t) * (t < seconds / 2)
    return x + 1e-3 * torch.randn(n, generator=g)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_batch_matches_openai_whisper_per_utterance(n_mels):
    lengths = [1.0, 3.37, 0.51, 2.0]
    waves = [_audio(s, i) for i, s in enumerate(lengths)]
    batch = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    lens = torch.tensor([len(w) for w in waves])
    feats, feats_lens = WhisperFrontend(n_mels=n_mels)(batch, lens)
    assert feats.shape == (4, int(lens.max()) // HOP_LENGTH, n_mels)
    for i, w in enumerate(waves):
        ref = whisper.log_mel_spectrogram(w, n_mels=n_mels).T  # (frames, n_mels)
        assert int(feats_lens[i]) == ref.shape[0]
        err = (feats[i, : ref.shape[0]] - ref).abs().max().item()
        assert err <= 1e-4, f"utterance {i}: max abs error {err}"
        assert torch.all(feats[i, ref.shape[0] :] == 0)


def test_rejects_wrong_rate_and_bins():
    with pytest.raises(ValueError, match="16000"):
        WhisperFrontend(fs=8000)
    with pytest.raises(ValueError, match="80 or 128"):
        WhisperFrontend(n_mels=40)


def test_too_short_audio_is_an_error():
    with pytest.raises(ValueError, match="too short"):
        WhisperFrontend()(torch.zeros(2, 3000), torch.tensor([3000, 150]))


def test_float32_under_autocast():
    wave = _audio(1.0, 0)[None]
    ref = whisper.log_mel_spectrogram(wave[0]).T
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats, _ = WhisperFrontend()(wave, torch.tensor([wave.shape[1]]))
    assert feats.dtype == torch.float32
    assert (feats[0] - ref).abs().max() <= 1e-4
