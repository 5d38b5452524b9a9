import torch

from osum.model.adapter import OSUMAdapter


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


def reference_adapter(adapter, x, pe_scale=1.0):
    """The OSUM adapter written out with functional ops, for one utterance (1, T, D)."""
    F = torch.nn.functional
    y = x.transpose(1, 2)
    for i in (1, 4, 7):  # left pad 2, conv k3 (strides 1, 2, 2), GELU
        conv = adapter.down_sample_2.conv[i]
        y = F.gelu(F.conv1d(F.pad(y, (2, 0)), conv.weight, conv.bias, stride=conv.stride))
    y = y.transpose(1, 2)
    st = adapter.speech_transformer
    d = y.shape[-1]
    lin, ln = st.embed.out[0], st.embed.out[1]
    y = F.layer_norm(F.linear(y, lin.weight, lin.bias), (d,), ln.weight, ln.bias, 1e-5)
    pos = torch.arange(y.shape[1], dtype=torch.float32)[:, None]
    freq = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float32) / d)
    pe = torch.zeros(y.shape[1], d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
    y = y * d**0.5 + pe_scale * pe
    for layer in st.encoders:
        att = layer.self_attn
        h = F.layer_norm(y, (d,), layer.norm1.weight, layer.norm1.bias, 1e-5)
        q, k, v = (
            F.linear(h, m.weight, m.bias).view(1, -1, att.h, att.d_k).transpose(1, 2)
            for m in (att.linear_q, att.linear_k, att.linear_v)
        )
        w = torch.softmax(q @ k.transpose(-1, -2) / att.d_k**0.5, dim=-1)
        o = (w @ v).transpose(1, 2).reshape(1, -1, d)
        y = y + F.linear(o, att.linear_out.weight, att.linear_out.bias)
        h = F.layer_norm(y, (d,), layer.norm2.weight, layer.norm2.bias, 1e-5)
        ff = layer.feed_forward
        y = y + F.linear(
            F.relu(F.linear(h, ff.w_1.weight, ff.w_1.bias)), ff.w_2.weight, ff.w_2.bias
        )
    y = F.layer_norm(y, (d,), st.after_norm.weight, st.after_norm.bias, 1e-5)
    return F.linear(y, adapter.speech_llama_proj.weight, adapter.speech_llama_proj.bias)


def test_matches_the_written_out_reference():
    torch.manual_seed(0)
    adapter = OSUMAdapter(input_size=32, output_size=24, linear_units=64, num_blocks=2).eval()
    x = torch.randn(1, 23, 32)
    with torch.no_grad():
        out, lens = adapter(x, torch.tensor([23]))
        ref = reference_adapter(adapter, x)
    assert out.shape == ref.shape == (1, 6, 24) and lens.tolist() == [6]
    assert (out - ref).abs().max() <= 1e-5


def test_pos_enc_scale_scales_the_table_and_loads_the_same_weights():
    torch.manual_seed(0)
    plain = OSUMAdapter(input_size=32, output_size=24, linear_units=64, num_blocks=2).eval()
    scaled = OSUMAdapter(
        input_size=32, output_size=24, linear_units=64, num_blocks=2, pos_enc_scale=8.0
    ).eval()
    scaled.load_state_dict(plain.state_dict())  # the table is not a weight: strict load
    assert set(plain.state_dict()) == set(scaled.state_dict())
    x = torch.randn(1, 23, 32)
    with torch.no_grad():
        out, _ = scaled(x, torch.tensor([23]))
        assert (out - reference_adapter(plain, x, pe_scale=8.0)).abs().max() <= 1e-4
        assert (out - plain(x, torch.tensor([23]))[0]).abs().max() > 1e-2
