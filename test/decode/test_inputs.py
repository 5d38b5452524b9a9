"""What decoding takes: option values that can work (refused early otherwise, naming the
option) and waveform shapes (one utterance, its channels, or a list)."""

import numpy as np
import pytest
import torch

from osum.decode.search import DecodeOptions
from osum.decode.speech2text import MAX_CHANNELS, Speech2Text, mono

REQUIRED = [
    "--train_config",
    "exp/config.yaml",
    "--output_dir",
    "exp/decode",
    "--data_path_and_name_and_type",
    "data/wav.scp,speech,sound",
]


@pytest.mark.parametrize(
    "option, value",
    [
        ("beam_size", 0),
        ("nbest", 0),
        ("max_new_tokens", 0),
        ("ctc_candidates", 0),
        ("temperature", 0.0),
        ("repetition_penalty", -1.0),
        ("top_k", -1),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("ctc_weight", 1.0),
    ],
)
def test_decode_options_that_cannot_work_are_refused(option, value):
    with pytest.raises(ValueError, match=option):
        DecodeOptions(**{option: value})


@pytest.mark.parametrize(
    "kw, option",
    [
        (dict(batch_size=0), "batch_size"),
        (dict(chunk_seconds=0), "chunk_seconds"),
        (dict(chunk_seconds=-5), "chunk_seconds"),
        (dict(beam_size=0), "beam_size"),
        (dict(max_new_tokens=0), "max_new_tokens"),
    ],
)
def test_speech2text_refuses_bad_options_before_loading_a_model(kw, option):
    with pytest.raises(ValueError, match=option):  # not the missing config's error
        Speech2Text("/nonexistent/config.yaml", **kw)


@pytest.mark.parametrize(
    "argv",
    [
        ["--batch_size", "0"],
        ["--beam_size", "0"],
        ["--max_new_tokens", "0"],
        ["--max_new_tokens", "-3"],
        ["--chunk_seconds", "0"],
        ["--chunk_seconds", "-1"],
        ["--ctc_weight", "1"],
        ["--ctc_candidates", "0"],
        ["--top_p", "0"],
        ["--top_k", "-1"],
        ["--temperature", "0"],
        ["--ngpu", "-1"],
        ["--job", "0"],
    ],
)
def test_osum_inference_refuses_bad_values_as_it_parses(argv, capsys):
    from osum.bin.osum_inference import get_parser

    with pytest.raises(SystemExit) as e:
        get_parser().parse_args(REQUIRED + argv)
    assert e.value.code == 2
    assert f"argument {argv[0]}:" in capsys.readouterr().err


def test_osum_inference_takes_good_values():
    from osum.bin.osum_inference import get_parser

    args = get_parser().parse_args(
        REQUIRED + ["--batch_size", "4", "--top_p", "1", "--ctc_weight", "0", "--top_k", "0"]
    )
    assert (args.batch_size, args.top_p, args.ctc_weight, args.top_k) == (4, 1.0, 0.0, 0)


def test_one_utterance_of_any_channel_layout():
    rng = np.random.default_rng(0)
    left, right = rng.standard_normal((2, 4000)).astype(np.float32)
    stereo = np.stack([left, right], axis=1)  # soundfile.read's (samples, channels)
    wave, channels = mono(stereo)
    assert channels == 2 and wave.shape == (4000,)
    np.testing.assert_allclose(wave, (left + right) / 2, rtol=1e-6)
    # torchaudio.load's (channels, samples), as an array or a tensor: the same utterance
    for layout in (stereo.T, torch.from_numpy(stereo.T.copy())):
        again, n = mono(layout)
        assert n == 2 and np.array_equal(again, wave)
    assert mono(left)[1] == 1 and mono(left[:, None])[1] == 1 and mono(left[None])[1] == 1
    pcm, _ = mono((left.clip(-1, 1) * 32767).astype(np.int16))
    assert pcm.dtype == np.float32 and np.abs(pcm).max() <= 1.0


@pytest.mark.parametrize(
    "wave, says",
    [
        (np.zeros((4, 4000, 2), dtype=np.float32), "3-D"),
        (np.zeros((MAX_CHANNELS + 1, 4000), dtype=np.float32), "give a batch as a list"),
        (np.float32(0.5), "0-D"),
        (np.array(["a", "b"]), "not audio samples"),
    ],
)
def test_shapes_that_are_no_utterance_are_refused(wave, says):
    with pytest.raises(ValueError, match=says):
        mono(wave, "utterance 3")
