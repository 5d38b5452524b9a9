import torch

from osum.adapter import OSUMAdapter


def test_osum_sizes_and_parameter_names():
    with torch.device("meta"):
        adapter = OSUMAdapter(input_size=1024, output_size=3584)
    n = sum(p.numel() for p in adapter.parameters())
    assert abs(n - 51.6e6) / 51.6e6 < 0.01, n  # OSUM reports about 51.6 M
    names = set(dict(adapter.named_parameters()))
    for key in [
        "down_sample_2.conv.1.weight",
        "down_sample_2.conv.4.bias",
        "down_sample_2.conv.7.weight",
        "speech_transformer.embed.out.0.weight",
        "speech_transformer.embed.out.1.bias",
        "speech_transformer.encoders.3.self_attn.linear_q.weight",
        "speech_transformer.encoders.0.self_attn.linear_k.bias",
        "speech_transformer.encoders.0.feed_forward.w_1.weight",
        "speech_transformer.encoders.0.feed_forward.w_2.bias",
        "speech_transformer.encoders.0.norm1.weight",
        "speech_transformer.encoders.0.norm2.bias",
        "speech_transformer.after_norm.weight",
        "speech_llama_proj.weight",
    ]:
        assert key in names, key


def test_lengths_and_batch_equals_single():
    torch.manual_seed(0)
    adapter = OSUMAdapter(input_size=32, output_size=48, linear_units=64, num_blocks=2).eval()
    lengths = [9, 1, 16, 4, 5]
    xs = [torch.randn(n, 32) for n in lengths]
    batch = torch.nn.utils.rnn.pad_sequence(xs, batch_first=True, padding_value=3.0)
    with torch.no_grad():
        out, out_lens = adapter(batch, torch.tensor(lengths))
        assert out_lens.tolist() == [(((n + 1) // 2) + 1) // 2 for n in lengths]
        assert out_lens.tolist() == [3, 1, 4, 1, 2]
        for i, x in enumerate(xs):
            alone, alone_len = adapter(x[None], torch.tensor([len(x)]))
            assert alone.shape[1] == int(alone_len[0]) == int(out_lens[i])
            assert (out[i, : alone.shape[1]] - alone[0]).abs().max() <= 1e-5
