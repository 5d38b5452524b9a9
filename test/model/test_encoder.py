from dataclasses import asdict

import pytest
import torch
import whisper
from transformers import WhisperForConditionalGeneration
from whisper.model import ModelDimensions

from osum.model.encoder import WhisperEncoder, load_whisper_encoder_checkpoint

DIMS = ModelDimensions(
    n_mels=80,
    n_audio_ctx=1500,
    n_audio_state=64,
    n_audio_head=4,
    n_audio_layer=2,
    n_vocab=128,
    n_text_ctx=32,
    n_text_state=64,
    n_text_head=4,
    n_text_layer=1,
)


@pytest.fixture(scope="module")
def openai_pt(tmp_path_factory):
    torch.manual_seed(1)
    model = whisper.model.Whisper(DIMS)
    for p in model.parameters():  # default init leaves biases at 0: make them count
        torch.nn.init.normal_(p, std=0.05)
    path = tmp_path_factory.mktemp("openai") / "tiny.pt"
    torch.save({"dims": asdict(DIMS), "model_state_dict": model.state_dict()}, path)
    return path, model.encoder.eval()


def test_matches_openai_audio_encoder_on_30s(openai_pt):
    path, ref = openai_pt
    ours = WhisperEncoder(init=str(path)).eval()
    mel = torch.randn(2, 80, 3000)
    with torch.no_grad():
        expected = ref(mel)
        got, lens = ours(mel.transpose(1, 2), torch.tensor([3000, 3000]))
    assert lens.tolist() == [1500, 1500]
    assert (got - expected).abs().max().item() <= 1e-4


def test_matches_hf_whisper_encoder_on_30s(tiny_dirs):
    hf = WhisperForConditionalGeneration.from_pretrained(tiny_dirs["whisper"]).model.encoder.eval()
    ours = WhisperEncoder(init=tiny_dirs["whisper"]).eval()
    mel = torch.randn(2, 80, 3000)
    with torch.no_grad():
        expected = hf(mel).last_hidden_state
        got, _ = ours(mel.transpose(1, 2), torch.tensor([3000, 3000]))
    assert (got - expected).abs().max().item() <= 1e-4


def test_batch_equals_each_utterance_alone(openai_pt):
    ours = WhisperEncoder(init=str(openai_pt[0])).eval()
    lengths = [731, 200, 1199, 57, 1200]
    feats = [torch.randn(n, 80) for n in lengths]
    batch = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True, padding_value=7.0)
    with torch.no_grad():
        out, out_lens = ours(batch, torch.tensor(lengths))
        for i, f in enumerate(feats):
            alone, alone_len = ours(f[None], torch.tensor([len(f)]))
            assert int(out_lens[i]) == int(alone_len[0]) == (len(f) - 1) // 2 + 1
            n = int(alone_len[0])
            err = (out[i, :n] - alone[0]).abs().max().item()
            assert err <= 1e-5, f"utterance {i} ({len(f)} frames): padding leaked, error {err}"


def test_cost_follows_length_not_30s(openai_pt):
    """The encoder runs at the input's length, not Whisper's 30 s: its convolutions and
    every block see the utterance's frames (a batch's longest), and the work counted in
    FLOPs grows with the length, 2 s costing about 2/30 of 30 s, where an encoder that
    pads to 3000 frames and cuts its output back would cost the same for both."""
    from torch.utils.flop_counter import FlopCounterMode

    ours = WhisperEncoder(init=str(openai_pt[0])).eval()
    seen = []  # (module, frames of its input)
    modules = {"conv1": ours.conv1, "conv2": ours.conv2, "ln_post": ours.ln_post}
    modules.update({f"block{i}": b.attn for i, b in enumerate(ours.blocks)})
    for name, module in modules.items():
        time_axis = -1 if name.startswith("conv") else 1  # convs: (batch, channels, time)
        module.register_forward_pre_hook(
            lambda m, args, name=name, t=time_axis: seen.append((name, args[0].shape[t]))
        )

    def run(lengths):
        seen.clear()
        feats = torch.randn(len(lengths), max(lengths), 80)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            out, out_lens = ours(feats, torch.tensor(lengths))
        assert out_lens.tolist() == [(n - 1) // 2 + 1 for n in lengths]
        assert out.shape[1] == max(out_lens.tolist())
        return counter.get_total_flops(), dict(seen)

    flops = {}
    for seconds in (2, 4, 30):
        frames = 100 * seconds
        flops[seconds], sizes = run([frames])
        assert sizes == {"conv1": frames, "conv2": frames, "ln_post": frames // 2} | {
            f"block{i}": frames // 2 for i in range(len(ours.blocks))
        }, f"{seconds} s: not run at its own length"
    # the batch runs at its longest utterance (4 s), not at 30 s
    flops_batch, sizes = run([400, 200])
    assert set(sizes.values()) == {400, 200} and sizes["block0"] == 200

    # cost = a * frames (convolutions, projections, feed-forward) + b * frames^2
    # (attention scores): between linear and quadratic in the length, so x2 frames costs
    # x2 to x4, and 2 s at most 2/30 of 30 s (at least (2/30)^2)
    assert flops[30] > 0
    assert 2 * 0.99 <= flops[4] / flops[2] <= 4 * 1.01
    assert (2 / 30) ** 2 * 0.99 <= flops[2] / flops[30] <= 2 / 30 * 1.01
    assert 2 * flops[4] * 0.99 <= flops_batch <= 2 * flops[4] * 1.01  # two of 4 s


def test_too_long_and_wrong_bins_are_rejected(openai_pt):
    ours = WhisperEncoder(init=str(openai_pt[0]))
    with pytest.raises(ValueError, match="exceeds"):
        ours(torch.randn(1, 3002, 80), torch.tensor([3002]))
    with pytest.raises(ValueError, match="80 mel bins"):
        ours(torch.randn(1, 100, 128), torch.tensor([100]))


def test_bad_checkpoints_name_the_culprit(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_whisper_encoder_checkpoint(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_whisper_encoder_checkpoint(str(tmp_path / "empty"))
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="bad.pt"):
        load_whisper_encoder_checkpoint(str(bad))


@pytest.mark.parametrize("n_mels, ffn", [(128, None), (80, 72)])
def test_hf_dir_sizes_come_from_its_config(tmp_path, n_mels, ffn):
    """128 mel bins (large-v3), and a feed-forward width other than Whisper's 4 x width,
    which the format allows (encoder_ffn_dim)."""
    from osum.dev.tiny_models import build_whisper

    path = build_whisper(str(tmp_path / "whisper"), n_mels=n_mels, d_model=32, layers=1, ffn=ffn)
    hf = WhisperForConditionalGeneration.from_pretrained(path).model.encoder.eval()
    ours = WhisperEncoder(init=str(path)).eval()
    assert ours.n_mels == n_mels and ours.n_ffn == (ffn or 4 * 32)
    mel = torch.randn(1, n_mels, 3000)
    with torch.no_grad():
        expected = hf(mel).last_hidden_state
        got, _ = ours(mel.transpose(1, 2), torch.tensor([3000]))
    assert (got - expected).abs().max().item() <= 1e-4


def test_openai_pt_feed_forward_width_comes_from_its_weights(tmp_path):
    """openai-whisper's dims do not name the feed-forward width: it is read from the
    first block's weight, so a checkpoint whose blocks are not 4 x wide loads too."""
    encoder = WhisperEncoder(n_mels=80, n_state=64, n_head=4, n_layer=2, n_ffn=96)
    state = {"encoder." + k: v for k, v in encoder.state_dict().items()}
    torch.save({"dims": asdict(DIMS), "model_state_dict": state}, tmp_path / "narrow.pt")
    loaded = WhisperEncoder(init=str(tmp_path / "narrow.pt"))
    assert loaded.n_ffn == 96
    assert all(torch.equal(a, b) for a, b in zip(loaded.parameters(), encoder.parameters()))


HF_TO_OPENAI = [  # HF WhisperEncoder names -> openai-whisper's AudioEncoder names
    (r"^embed_positions\.weight$", "positional_embedding"),
    (r"^layers\.(\d+)\.self_attn\.q_proj\.", r"blocks.\1.attn.query."),
    (r"^layers\.(\d+)\.self_attn\.k_proj\.", r"blocks.\1.attn.key."),
    (r"^layers\.(\d+)\.self_attn\.v_proj\.", r"blocks.\1.attn.value."),
    (r"^layers\.(\d+)\.self_attn\.out_proj\.", r"blocks.\1.attn.out."),
    (r"^layers\.(\d+)\.self_attn_layer_norm\.", r"blocks.\1.attn_ln."),
    (r"^layers\.(\d+)\.fc1\.", r"blocks.\1.mlp.0."),
    (r"^layers\.(\d+)\.fc2\.", r"blocks.\1.mlp.2."),
    (r"^layers\.(\d+)\.final_layer_norm\.", r"blocks.\1.mlp_ln."),
    (r"^layer_norm\.", "ln_post."),
]


def test_hf_dir_and_openai_pt_of_the_same_weights_agree(tiny_dirs, tmp_path):
    """The same random weights written both ways load to the same encoder output."""
    import re

    hf = WhisperForConditionalGeneration.from_pretrained(tiny_dirs["whisper"]).model.encoder
    c = hf.config
    dims = ModelDimensions(
        n_mels=c.num_mel_bins,
        n_audio_ctx=c.max_source_positions,
        n_audio_state=c.d_model,
        n_audio_head=c.encoder_attention_heads,
        n_audio_layer=c.encoder_layers,
        n_vocab=128,
        n_text_ctx=32,
        n_text_state=c.d_model,
        n_text_head=c.encoder_attention_heads,
        n_text_layer=1,
    )
    openai_model = whisper.model.Whisper(dims)
    state = openai_model.state_dict()
    for key, value in hf.state_dict().items():
        name = key
        for pattern, repl in HF_TO_OPENAI:
            name = re.sub(pattern, repl, name)
        assert "encoder." + name in state, key
        state["encoder." + name] = value.clone()
    torch.save({"dims": asdict(dims), "model_state_dict": state}, tmp_path / "same.pt")
    from_pt = WhisperEncoder(init=str(tmp_path / "same.pt")).eval()
    from_dir = WhisperEncoder(init=tiny_dirs["whisper"]).eval()
    mel = torch.randn(2, 730, c.num_mel_bins)  # 7.3 s, not Whisper's 30 s
    with torch.no_grad():
        a, a_lens = from_pt(mel, torch.tensor([730, 512]))
        b, b_lens = from_dir(mel, torch.tensor([730, 512]))
    assert torch.equal(a_lens, b_lens)
    assert (a - b).abs().max().item() <= 1e-6
