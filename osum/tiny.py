"""Tiny random-weight Whisper and Qwen2 models and a byte-level BPE tokenizer.

They are built with the real HF classes and written with ``save_pretrained``, so the
code that loads them is the code that loads real checkpoints. Used by the tests and by
recipes that need no download.
"""

from pathlib import Path
from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

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


def build_tokenizer(out_dir: str, corpus: Iterable[str] | None = None, vocab_size: int = 400):
    """Train a byte-level BPE on ``corpus`` and save it as an HF Qwen2 tokenizer."""
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
    tok.save_pretrained(out_dir)
    return tok


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
) -> Path:
    """A random-weight Qwen2ForCausalLM and its tokenizer in ``out_dir``.

    ``model_vocab_size`` makes the embedding and output layers that large (e.g. Qwen2's
    151936, for speed measurements) while the tokenizer stays small."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = build_tokenizer(out_dir, tokenizer_corpus, vocab_size)
    config = Qwen2Config(
        vocab_size=max(len(tok), model_vocab_size or 0),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        eos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
        bos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
        pad_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
    )
    torch.manual_seed(seed)
    Qwen2ForCausalLM(config).save_pretrained(out_dir)
    return Path(out_dir)


def build_whisper(
    out_dir: str,
    n_mels: int = 80,
    d_model: int = 64,
    layers: int = 2,
    heads: int = 4,
    seed: int = 0,
    init_std: float = 0.02,
) -> Path:
    """A random-weight HF WhisperForConditionalGeneration in ``out_dir``.

    HF's default ``init_std`` (0.02) makes the encoder's output almost all positional
    embedding (utterances differ by about 2 % of its scale), which a model trained from
    scratch needs many steps to undo; 0.1 gives content about 40 %."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(
        vocab_size=128,
        num_mel_bins=n_mels,
        d_model=d_model,
        encoder_layers=layers,
        encoder_attention_heads=heads,
        encoder_ffn_dim=4 * d_model,
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
    WhisperForConditionalGeneration(config).save_pretrained(out_dir)
    return Path(out_dir)


def tokenizer_text(data_dirs: Iterable[str], registry=None) -> list:
    """Text a tiny tokenizer is trained on: the data dirs' transcripts and answers, and
    the registry's prompts, labels and timestamp tags."""
    from osum.task_data import read_table
    from osum.tasks import build_registry

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
):
    """``<out_dir>/qwen2`` and ``<out_dir>/whisper`` of a recipe's CPU config (4 heads,
    FFN 4x the width); returns their paths."""
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
