"""Tiny random-weight Whisper, Qwen2 and Llama models, a byte-level BPE tokenizer (Qwen2's
kind) and a sentencepiece one (Llama 2's kind).

They are built with the real HF classes and written with ``save_pretrained``, so the
code that loads them is the code that loads real checkpoints. Used by the tests and by
recipes that need no download.
"""

from pathlib import Path
from typing import Iterable, Sequence, Tuple

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
    from osum.data.task_files import read_table

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


def text_targets(
    data_dir: str,
    tokenizer_dir: str,
    tasks: Sequence[str] | None = None,
    registry=None,
    unique: bool = True,
) -> list:
    """Token ids of the targets a data dir's text alone determines, as training builds them
    (:class:`osum.asrx.preprocess.OSUMPreprocessor`), each between two end tokens: for a chat
    task (STTC) the transcript, the marker and the answer; for any other task the
    transcript (ASR's target). Labels are left out: they come from the audio. ``tasks``
    keeps the utterances of those tasks only (``["STTC"]``: the questions and answers).
    With ``unique`` each distinct target once (a sentence spoken for several tasks is one
    sequence), sorted."""
    from osum.asrx.preprocess import OSUMPreprocessor
    from osum.data.task_files import load_task_info, read_table

    pre = OSUMPreprocessor(train=False, tokenizer=tokenizer_dir)
    if registry is not None:
        pre.registry = registry
    unknown = sorted(set(tasks or []) - set(pre.registry))
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; known: {list(pre.registry)}")
    texts = read_table(Path(data_dir) / "text")
    out = []
    for utt, info in sorted(load_task_info(data_dir).items()):
        text = texts[utt][0] if utt in texts else ""
        if (tasks and info["task"] not in tasks) or not text.strip():
            continue
        name = info["task"] if pre.registry[info["task"]].chat else "ASR"
        target = pre.registry[name].build_target(dict(info, text=text))
        out.append((pre.end_id, *pre.encode(target), pre.end_id))
    return [list(s) for s in sorted(set(out))] if unique else [list(s) for s in out]


def answer_context(sequences: list, tokenizer_dir: str) -> Tuple[list, list]:
    """The sequences of :func:`text_targets` that hold a chat answer, and for each the
    number of its tokens up to the answer marker (``<开始回答>``) included: the context of
    its answer, for :func:`train_causal_lm`'s ``context``."""
    from osum.asrx.registry import ANSWER_MARKER
    from osum.model.llm import load_tokenizer

    marker = load_tokenizer(tokenizer_dir).encode(ANSWER_MARKER, add_special_tokens=False)
    kept, context = [], []
    for seq in sequences:
        at = next(
            (i for i in range(len(seq) - len(marker) + 1) if seq[i : i + len(marker)] == marker),
            None,
        )
        if at is not None:
            kept.append(seq)
            context.append(at + len(marker))
    return kept, context


def train_causal_lm(
    model,
    sequences: list,
    epochs: int = 10,
    batch_size: int = 16,
    lr: float = 2e-3,
    warmup_steps: int = 50,
    seed: int = 0,
    context: Sequence[int] | None = None,
) -> dict:
    """Train a causal LM (HF ``*ForCausalLM``, or its peft wrapper: then only its trainable
    parameters) in place on token id ``sequences``: AdamW, linear warm-up then linear
    decay to 0, right padding with the loss on real tokens only, gradients clipped at 5;
    deterministic under ``seed``. ``context``: per sequence, how many of its first tokens
    are only read, not predicted (the loss is on the rest). Returns the settings, the
    mean loss of each epoch and the time taken."""
    import random
    import time

    import torch

    if not sequences:
        raise ValueError("no text to train the LLM on")
    if context is not None and len(context) != len(sequences):
        raise ValueError(f"{len(context)} context lengths for {len(sequences)} sequences")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    steps = epochs * ((len(sequences) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min(
            (s + 1) / max(warmup_steps, 1), max(0.0, (steps - s) / max(steps - warmup_steps, 1))
        ),
    )
    start, losses = time.perf_counter(), []
    order = list(range(len(sequences)))
    read_only = list(context) if context is not None else [0] * len(sequences)
    for _ in range(epochs):
        rng.shuffle(order)
        total, count = 0.0, 0
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            width = max(len(sequences[j]) for j in rows)
            ids = torch.zeros(len(rows), width, dtype=torch.long)
            mask = torch.zeros(len(rows), width, dtype=torch.long)
            scored = torch.zeros(len(rows), width, dtype=torch.bool)
            for r, j in enumerate(rows):
                seq = sequences[j]
                ids[r, : len(seq)] = torch.tensor(seq)
                mask[r, : len(seq)] = 1
                scored[r, read_only[j] : len(seq)] = True
            labels = ids.masked_fill(~scored, -100)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            sched.step()
            total, count = total + float(loss.detach()) * len(rows), count + len(rows)
        losses.append(round(total / count, 4))
    model.eval()
    return {
        "sequences": len(sequences),
        "context_only_tokens": sum(context) if context is not None else 0,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "steps": steps,
        "epoch_loss": losses,
        "seconds": round(time.perf_counter() - start, 1),
    }


def pretrain_llm_on_text(llm_dir: str, sequences: list, **train_opts) -> dict:
    """Train the causal LM in ``llm_dir`` on token id ``sequences`` (:func:`train_causal_lm`
    with ``train_opts``) and save it back.

    A recipe's stand-in for the LLM's pretraining, as CTC on the encoder stands in for
    Whisper's: a tiny LLM learns the language of the corpus and the facts of its answers
    from the training split's text (:func:`text_targets`) before it learns to read
    speech. Returns :func:`train_causal_lm`'s report (also written to
    ``<llm_dir>/text_pretraining.json``)."""
    import json

    import torch
    from transformers import AutoModelForCausalLM

    from osum.model.llm import quiet_loading

    if not sequences:
        raise ValueError(f"{llm_dir}: no text to pretrain the LLM on")
    with quiet_loading():
        model = AutoModelForCausalLM.from_pretrained(
            llm_dir, dtype=torch.float32, local_files_only=True
        )
    report = train_causal_lm(model, sequences, **train_opts)
    with quiet_loading():
        model.save_pretrained(llm_dir)
    (Path(llm_dir) / "text_pretraining.json").write_text(json.dumps(report, indent=1) + "\n")
    return report
