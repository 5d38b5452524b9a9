"""Tiny random-weight Whisper, Qwen2 and Llama models, a byte-level BPE tokenizer (Qwen2's
kind) and a sentencepiece one (Llama 2's kind).

They are built with the real HF classes and written with ``save_pretrained``, so the
code that loads them is the code that loads real checkpoints. Used by the tests and by
recipes that need no download.
"""

from pathlib import Path
from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from osum.cli import positive_float, positive_int

# Qwen2's special tokens; <|endoftext|> ends every target
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

DEFAULT_CORPUS = [
    "transcribe the speech",
    "zero one two three four five six seven eight nine ten",
    "turn on the light turn off the music open the door close the window",
    "what is the weather like today please call my mother",
    "the quick brown fox jumps over the lazy dog",
    "请将音频转录为文字 执行语音识别任务 将音频转换为文字",
    "今天天气很好 打开灯 关闭音乐 一二三四五六七八九十",
]


# the encoder's window: time tokens cover 0 to 30 s
MAX_SECONDS = 30


def time_token_strings(decimals: int) -> list:
    """SRWT's times as written in targets (``<1.2>`` with 1 decimal), 0 to 30 s."""
    if not 0 <= decimals <= 2:
        raise ValueError(f"time tokens take 0 to 2 decimals, not {decimals}")
    step = 10**decimals
    return [f"<{t / step:.{decimals}f}>" for t in range(MAX_SECONDS * step + 1)]


def build_tokenizer(
    out_dir: str,
    corpus: Iterable[str] | None = None,
    vocab_size: int = 400,
    time_tokens: int | None = None,
):
    """Train a byte-level BPE on ``corpus`` and save it as an HF Qwen2 tokenizer.

    ``time_tokens``: add every SRWT time with that many decimals (``<0.0>`` ... ``<30.0>``
    for 1) as one token each, as Whisper's tokenizer has a token per 20 ms: a time is
    then one decision of the LLM, not a string of digits. The SRWT task's
    ``time_decimals`` must be the same."""
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    # numbers split into single digits (as Qwen2's) and Chinese into single characters
    # (unlike Qwen2's: on a tiny corpus BPE would merge random character pairs, so the
    # same character would get a different token in every sentence), then byte-level
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Split(Regex("[\u3400-\u9fff]"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(corpus or DEFAULT_CORPUS), trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    if time_tokens is not None:
        tok.add_tokens(time_token_strings(time_tokens))
    tok.save_pretrained(out_dir)
    return tok


def _decoder_sizes(hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size) -> dict:
    """The config arguments a tiny decoder-only LLM shares, whatever its family."""
    return dict(
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )


def build_qwen2(
    out_dir: str,
    tokenizer_corpus: Iterable[str] | None = None,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    vocab_size: int = 400,
    seed: int = 0,
    model_vocab_size: int | None = None,
    time_tokens: int | None = None,
) -> Path:
    """A random-weight Qwen2ForCausalLM and its tokenizer in ``out_dir``.

    ``model_vocab_size`` makes the embedding and output layers that large (e.g. Qwen2's
    151936, for speed measurements) while the tokenizer stays small; ``time_tokens``:
    :func:`build_tokenizer`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from osum.model.llm import quiet_loading

    tok = build_tokenizer(out_dir, tokenizer_corpus, vocab_size, time_tokens)
    config = Qwen2Config(
        vocab_size=max(len(tok), model_vocab_size or 0),
        **_decoder_sizes(hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size),
        eos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
        bos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
        pad_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
    )
    torch.manual_seed(seed)
    with quiet_loading():
        Qwen2ForCausalLM(config).save_pretrained(out_dir)
    return Path(out_dir)


def build_llama(
    out_dir: str,
    corpus: Iterable[str] | None = None,
    vocab_size: int = 400,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    seed: int = 0,
) -> Path:
    """A random-weight LlamaForCausalLM whose tokenizer is only a sentencepiece model, as
    Llama 2 and Vicuna ship theirs: ``tokenizer.model`` (BPE with byte fallback, trained
    on ``corpus``, at most ``vocab_size`` pieces) and ``tokenizer_config.json``, no
    ``tokenizer.json``."""
    import io
    import json

    import sentencepiece as spm
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from osum.model.llm import quiet_loading

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(corpus or DEFAULT_CORPUS)),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,  # any text encodes, as in Llama 2's tokenizer
        character_coverage=1.0,
        hard_vocab_limit=False,  # at most vocab_size: a small corpus has fewer pieces
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    (out / "tokenizer.model").write_bytes(model.getvalue())
    pieces = spm.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            dict(
                tokenizer_class="LlamaTokenizer",
                bos_token="<s>",
                eos_token="</s>",
                unk_token="<unk>",
                add_bos_token=True,
                add_eos_token=False,
                legacy=False,
            ),
            indent=1,
        )
    )
    config = LlamaConfig(
        vocab_size=pieces,
        **_decoder_sizes(hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size),
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(seed)
    with quiet_loading():
        LlamaForCausalLM(config).save_pretrained(out)
    return out


def build_whisper(
    out_dir: str,
    n_mels: int = 80,
    d_model: int = 64,
    layers: int = 2,
    heads: int = 4,
    seed: int = 0,
    init_std: float = 0.02,
    ffn: int | None = None,
) -> Path:
    """A random-weight HF WhisperForConditionalGeneration in ``out_dir`` (feed-forward
    width ``ffn``, Whisper's 4 x ``d_model`` by default).

    HF's default ``init_std`` (0.02) makes the encoder's output almost all positional
    embedding (utterances differ by about 2 % of its scale), which a model trained from
    scratch needs many steps to undo; 0.1 gives content about 40 %."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from osum.model.llm import quiet_loading

    config = WhisperConfig(
        vocab_size=128,
        num_mel_bins=n_mels,
        d_model=d_model,
        encoder_layers=layers,
        encoder_attention_heads=heads,
        encoder_ffn_dim=ffn or 4 * d_model,
        decoder_layers=1,
        decoder_attention_heads=heads,
        decoder_ffn_dim=4 * d_model,
        max_source_positions=1500,
        max_target_positions=32,
        decoder_start_token_id=1,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        init_std=init_std,
    )
    torch.manual_seed(seed)
    with quiet_loading():
        WhisperForConditionalGeneration(config).save_pretrained(out_dir)
    return Path(out_dir)


def tokenizer_text(data_dirs: Iterable[str], registry=None) -> list:
    """Text a tiny tokenizer is trained on: the data dirs' transcripts and answers, and
    the registry's prompts, labels and timestamp tags."""
    from osum.asrx.registry import build_registry
    from osum.data.kaldi import read_table

    text = []
    for d in data_dirs:
        if not (Path(d) / "text").is_file():
            raise FileNotFoundError(f"{d}: no text file to train the tokenizer on")
        for name in ("text", "utt2answer"):
            if (Path(d) / name).is_file():
                text += [v for v, _ in read_table(Path(d) / name).values() if v]
    for task in (registry or build_registry()).values():
        text += [p for ps in task.prompts.values() for p in ps]
        text += [f"<{x}>" for labels in task.label_sets.values() for x in labels]
    text += [f"<{t / 100:.2f}>" for t in range(0, 1000, 7)]
    return text


def build_tiny_models(
    out_dir: str,
    tokenizer_corpus: Iterable[str],
    whisper_dim: int = 128,
    whisper_layers: int = 2,
    whisper_init_std: float = 0.1,
    llm_dim: int = 128,
    llm_layers: int = 4,
    vocab_size: int = 1000,
    n_mels: int = 80,
    seed: int = 0,
    time_tokens: int | None = None,
):
    """``<out_dir>/qwen2`` and ``<out_dir>/whisper`` of a recipe's CPU config (4 heads,
    FFN 4x the width; ``time_tokens``: :func:`build_tokenizer`); returns their paths."""
    llm = build_qwen2(
        f"{out_dir}/qwen2",
        tokenizer_corpus=tokenizer_corpus,
        hidden_size=llm_dim,
        num_layers=llm_layers,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=4 * llm_dim,
        vocab_size=vocab_size,
        seed=seed,
        time_tokens=time_tokens,
    )
    whisper = build_whisper(
        f"{out_dir}/whisper",
        n_mels=n_mels,
        d_model=whisper_dim,
        layers=whisper_layers,
        heads=4,
        seed=seed,
        init_std=whisper_init_std,
    )
    return llm, whisper


# the sizes of the tiny models, as command options: (name, type, default, help)
SIZE_OPTIONS = [
    ("whisper_dim", positive_int, 128, None),
    ("whisper_layers", positive_int, 2, None),
    ("whisper_init_std", positive_float, 0.1, None),
    ("llm_dim", positive_int, 128, None),
    ("llm_layers", positive_int, 4, None),
    ("vocab_size", positive_int, 1000, "BPE vocabulary"),
]


def add_size_options(parser) -> None:
    """``--whisper_dim`` ... ``--vocab_size`` of :func:`build_tiny_models` on a parser."""
    for name, kind, default, help_ in SIZE_OPTIONS:
        parser.add_argument(f"--{name}", type=kind, default=default, help=help_)


def size_options(args) -> dict:
    """The parsed size options, as :func:`build_tiny_models` keywords."""
    return {name: getattr(args, name) for name, *_ in SIZE_OPTIONS}
