"""Speech2Text: a trained model, its tokenizer and prompts, decoding waveforms into fields.

    s2t = Speech2Text("exp/osum/config.yaml", "exp/osum/valid.acc.ave.pth", device="cuda")
    result = s2t(wave, task="SER")                  # one 16 kHz waveform
    results = s2t([w1, w2, w3], task=["ASR", "SER", "SRWT"])
    result.parsed.transcript, result.parsed.labels, result.text

What a call takes (:func:`mono`): an array or tensor is one utterance, 1-D (samples) or
2-D (one recording's channels: soundfile's ``(samples, channels)`` or torchaudio's
``(channels, samples)``, channels on the shorter axis), its channels averaged to mono
with a warning; a list or tuple of those is a batch. A 2-D array is never a batch.

Audio longer than ``chunk_seconds`` (the encoder's 30 s window) is cut into consecutive
chunks, all decoded in batches, and joined: transcripts are concatenated, SRWT times are
shifted by each chunk's start, labels are the majority over the chunks that gave one
(ties: the earliest chunk), an STTC answer is the last chunk's (only the last must have the answer marker),
flags are the union.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import torch

from osum.asrx.preprocess import OSUMPreprocessor
from osum.asrx.registry import Parsed
from osum.asrx.text_norm import normalize
from osum.decode.ctc_prefix import transcript_closers
from osum.decode.search import DecodeOptions, decode_speech
from osum.decode.timestamps import Timestamps
from osum.model.checkpoint import CONFIG, WEIGHTS, is_export
from osum.model.frontend import HOP_LENGTH, WhisperFrontend

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MIN_SAMPLES = 201  # the log-mel frontend's shortest input
# a 2-D array with more than this on its shorter axis is not one recording's channels
MAX_CHANNELS = 16
# monotonic timestamps: a time may pass the end of its audio by this much (s), for the
# rounding of a time written with one decimal
TIME_MARGIN = 0.1


@dataclass
class Job:
    """One chunk of an utterance to decode."""

    utterance: int  # its index in the call
    chunk: int
    offset: float  # seconds from the utterance's start
    samples: torch.Tensor  # (samples,) float32 16 kHz
    prompt: torch.Tensor  # (tokens,) the task prompt's ids
    task: str


@dataclass
class Result:
    task: str
    text: str  # the raw hypothesis (chunks joined by a space)
    parsed: Parsed
    score: float = 0.0
    chunks: List[str] = field(default_factory=list)

    def words(self) -> List[dict]:
        """``[{"word", "start", "end"}]`` of a timestamp task (else empty): seconds to the
        millisecond, an end never before its start."""
        return [
            {"word": w, "start": round(s, 3), "end": round(max(s, e), 3)}
            for s, e, w in self.parsed.alignment
        ]

    def record(self, duration: float) -> dict:
        """The result as a JSON object (a file's line of ``decode_files``, the server's
        ``osum`` field): the raw text and its fields; ``duration``: seconds of audio."""
        p = self.parsed
        return {
            "task": self.task,
            "text": self.text,
            "transcript": p.transcript,
            "labels": dict(p.labels),
            "words": self.words(),
            "answer": p.answer,
            "flags": list(p.flags),
            "duration": round(duration, 3),
        }


def mono(wave, what: str = "speech") -> Tuple[np.ndarray, int]:
    """One utterance as 1-D float32 samples, and how many channels were averaged into it.

    ``wave`` (array, tensor or sequence of samples): 1-D ``(samples,)``, or 2-D, one
    recording's channels on the shorter axis: ``(samples, channels)`` as ``soundfile.read``
    gives them, or ``(channels, samples)`` as ``torchaudio.load`` does. Integer PCM is
    scaled to [-1, 1]. Anything else (a 2-D array with more than :data:`MAX_CHANNELS` on
    both axes, which is no recording's channels, 0-D, 3-D) is refused: a batch is a list."""
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().cpu().numpy()
    wave = np.asarray(wave)
    if not (np.issubdtype(wave.dtype, np.number) and not np.iscomplexobj(wave)):
        raise ValueError(f"{what}: not audio samples (dtype {wave.dtype})")
    if np.issubdtype(wave.dtype, np.integer):
        wave = wave.astype(np.float32) / float(np.iinfo(wave.dtype).max + 1)
    wave = np.asarray(wave, dtype=np.float32)
    channels = 1
    if wave.ndim == 2:
        if wave.shape[0] < wave.shape[1]:  # (channels, samples)
            wave = wave.T
        channels = wave.shape[1]
        if channels > MAX_CHANNELS:
            raise ValueError(
                f"{what}: a 2-D array of shape {tuple(wave.shape)} is not one recording's "
                f"channels (at most {MAX_CHANNELS}); give a batch as a list of 1-D waveforms"
            )
        wave = wave.mean(axis=1)
    elif wave.ndim != 1:
        raise ValueError(
            f"{what}: a {wave.ndim}-D array of shape {tuple(wave.shape)}; one utterance is "
            "1-D (samples) or 2-D (samples and channels), a batch is a list of them"
        )
    return np.ascontiguousarray(wave), channels


class Speech2Text:
    """Decoding with a trained OSUM model.

    Args:
        train_config: the experiment's config.yaml (names the base model dirs), or a
            dir written by ``osum.bin.export_model`` (then ``model_file`` is its own).
        model_file: a checkpoint (``valid.acc.ave.pth`` ...); None: the base weights only.
        device: cpu, cuda, cuda:1 ...
        prompt_language: language of the fixed task prompts (en or zh); None: the
            first of the training config's ``prompt_languages``.
        batch_size: utterances (chunks) decoded together.
        chunk_seconds: longest piece of audio given to the encoder at once, at most
            its window (30 s for Whisper's).
        **decode_options: fields of :class:`osum.decode.search.DecodeOptions`.
    """

    def __init__(
        self,
        train_config: str,
        model_file: str | None = None,
        device: str = "cpu",
        prompt_language: str | None = None,
        batch_size: int = 8,
        chunk_seconds: float = 30.0,
        **decode_options,
    ):
        from osum.train.task import OSUMTask

        # values that cannot work are refused before the model is loaded
        self.options = DecodeOptions(**decode_options)
        if not batch_size >= 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not chunk_seconds * SAMPLE_RATE >= MIN_SAMPLES:
            raise ValueError(
                f"chunk_seconds must be >= {MIN_SAMPLES / SAMPLE_RATE} (the frontend's "
                f"shortest input), got {chunk_seconds}"
            )
        if is_export(train_config):  # its paths are relative to it (build_model_from_file)
            train_config, model_file = Path(train_config) / CONFIG, Path(train_config) / WEIGHTS
        elif Path(train_config).name == CONFIG and is_export(Path(train_config).parent):
            model_file = model_file or Path(train_config).parent / WEIGHTS
        self.train_config, self.model_file = train_config, model_file
        self.model, self.args = OSUMTask.build_model_from_file(train_config, model_file, device)
        window = self.model.encoder.n_ctx * 2 * HOP_LENGTH / SAMPLE_RATE  # 2 frames a position
        if chunk_seconds > window:
            raise ValueError(
                f"chunk_seconds {chunk_seconds} is over the encoder's window of {window:g} s"
            )
        if self.model.frontend is None:
            # trained on dumped log-mel (stage 2's whisper_mel): the same frontend makes
            # the same features from the audio
            self.model.frontend = WhisperFrontend(n_mels=self.model.encoder.n_mels).to(device)
        self.model.eval()
        self.device = device
        conf = dict(self.args.preprocessor_conf)
        if prompt_language is not None:
            conf["prompt_languages"] = [prompt_language]
        conf.setdefault("tokenizer", self.args.llm_conf["path"])
        self.pre = OSUMPreprocessor(train=False, **conf)
        self.tokenizer = self.pre.tokenizer
        self.registry = self.pre.registry
        self.ctc_closes = None
        if self.options.ctc_weight > 0:
            if self.model.ctc is None:
                raise ValueError(
                    f"ctc_weight {self.options.ctc_weight}: the model of {train_config} has "
                    "no CTC head (it was trained with model_conf.ctc_weight 0)"
                )
            vocab = self.model.ctc.ctc_lo.out_features - 1
            self.ctc_closes = transcript_closers(self.tokenizer, vocab).to(device)
        self.pieces = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        self.batch_size = batch_size
        self.chunk_samples = int(chunk_seconds * SAMPLE_RATE)
        self._noted_channels = False

    def __call__(
        self,
        speech: np.ndarray | torch.Tensor | Sequence,
        task: str | Sequence[str] = "ASR",
        sample_rate: int = SAMPLE_RATE,
    ) -> Result | List[Result]:
        """``speech``: one utterance (an array or tensor, see :func:`mono`) or a list of
        them; gives one :class:`Result` or a list."""
        single = isinstance(speech, (np.ndarray, torch.Tensor))
        if not single and not isinstance(speech, (list, tuple)):
            raise TypeError(
                f"speech must be an array, a tensor or a list of them, not {type(speech).__name__}"
            )
        waves = [speech] if single else list(speech)
        tasks = [task] * len(waves) if isinstance(task, str) else list(task)
        if len(tasks) != len(waves):
            raise ValueError(f"{len(waves)} waveforms but {len(tasks)} tasks")
        waves = [self.prepare(w, sample_rate, i) for i, w in enumerate(waves)]
        results = self.decode_batch(waves, tasks)
        return results[0] if single else results

    def prepare(self, wave, sample_rate: int, index) -> torch.Tensor:
        """A float32 mono 16 kHz CPU tensor (:func:`mono`); integer PCM is scaled to
        [-1, 1]. ``index``: the utterance, as messages name it."""
        samples, channels = mono(wave, f"utterance {index}")
        if channels > 1 and not self._noted_channels:
            logger.warning(
                f"utterance {index}: {channels} channels mixed down to mono (the average); "
                "so is any other multi-channel audio"
            )
            self._noted_channels = True
        wave = torch.from_numpy(samples)
        if sample_rate != SAMPLE_RATE:
            import torchaudio

            wave = torchaudio.functional.resample(wave, sample_rate, SAMPLE_RATE)
        if len(wave) < MIN_SAMPLES:
            raise ValueError(
                f"utterance {index}: {len(wave)} samples is too short to decode (the "
                f"frontend needs {MIN_SAMPLES})"
            )
        return wave

    def chunks(self, wave: torch.Tensor) -> List[torch.Tensor]:
        """Consecutive pieces of at most chunk_seconds (a last sliver is made longer)."""
        n = self.chunk_samples
        bounds = list(range(0, len(wave), n)) + [len(wave)]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < MIN_SAMPLES:
            bounds[-2] = len(wave) - MIN_SAMPLES
        return [wave[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    @torch.no_grad()
    def decode_batch(
        self,
        waves: List[torch.Tensor],
        tasks: List[str],
        questions: Sequence[str | None] | None = None,
    ) -> List[Result]:
        """``questions``: per utterance, a text question put after the task's prompt."""
        questions = list(questions) if questions is not None else [None] * len(waves)
        if len(questions) != len(waves):
            raise ValueError(f"{len(waves)} waveforms but {len(questions)} questions")
        for t in tasks:
            if t not in self.registry:
                raise ValueError(f"unknown task {t!r}; known: {list(self.registry)}")
        jobs = self.jobs(waves, tasks, questions)
        order = sorted(range(len(jobs)), key=lambda j: -len(jobs[j].samples))  # similar lengths
        hyps = [None] * len(jobs)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            nbest = decode_speech(
                self.model,
                **self.batch_inputs([jobs[j] for j in idx]),
                end_id=self.pre.end_id,
                options=self.options,
            )
            for j, n in zip(idx, nbest):
                hyps[j] = n[0]
        results = []
        for u, task_name in enumerate(tasks):
            mine = [(job.offset, hyps[j]) for j, job in enumerate(jobs) if job.utterance == u]
            results.append(self.join(task_name, mine))
        return results

    def jobs(
        self, waves: List[torch.Tensor], tasks: List[str], questions: Sequence[str | None]
    ) -> List[Job]:
        """The chunks of every utterance (:meth:`chunks`), each with its prompt."""
        out = []
        for u, (wave, task, question) in enumerate(zip(waves, tasks, questions)):
            prompt = torch.from_numpy(self.pre.prompt_ids(self.pre.prompt_for(task, question)))
            offset = 0
            for c, piece in enumerate(self.chunks(wave)):
                out.append(Job(u, c, offset / SAMPLE_RATE, piece, prompt, task))
                offset += len(piece)
        return out

    def batch_inputs(self, jobs: List[Job]) -> dict:
        """The arguments of :func:`osum.decode.search.decode_speech` for a batch of chunks,
        on the device (speech and prompts padded, the CTC rows, the time limits)."""
        pad = torch.nn.utils.rnn.pad_sequence
        names = [j.task for j in jobs]
        return dict(
            speech=pad([j.samples for j in jobs], batch_first=True).to(self.device),
            speech_lengths=torch.tensor([len(j.samples) for j in jobs], device=self.device),
            prompt=pad([j.prompt for j in jobs], batch_first=True, padding_value=-1).to(
                self.device
            ),
            prompt_lengths=torch.tensor([len(j.prompt) for j in jobs], device=self.device),
            ctc_rows=torch.tensor([self._ctc_scored(t) for t in names], device=self.device),
            ctc_closes=self._ctc_closers(names),
            times=self._time_limits(names, [j.samples for j in jobs]),
        )

    def _ctc_closers(self, task_names: List[str]) -> torch.Tensor | None:
        """(batch, vocab) bool: what may end each row's transcript besides the end token:
        a tag or the answer marker where the task's target goes on after the transcript,
        nothing for a transcript-only task (ASR), whose hypothesis may not leave its CTC
        score behind by opening a tag it never has."""
        if self.ctc_closes is None:
            return None
        goes_on = torch.tensor(
            [bool(self.registry[t].fields or self.registry[t].chat) for t in task_names],
            device=self.ctc_closes.device,
        )
        return self.ctc_closes[None, :] & goes_on[:, None]

    def _time_limits(self, task_names: List[str], pieces) -> Timestamps | None:
        """Monotonic timestamps for the rows of timestamp tasks (their audio's length);
        None for a batch without any, which then pays nothing for the rule."""
        limits = [
            len(p) / SAMPLE_RATE + TIME_MARGIN if self.registry[t].timestamps else None
            for t, p in zip(task_names, pieces)
        ]
        if all(lim is None for lim in limits):
            return None
        return Timestamps(self.pieces, limits)

    def _ctc_scored(self, task_name: str) -> bool:
        """Joint CTC decoding scores the targets that start with a transcript."""
        task = self.registry[task_name]
        return bool(task.transcript and not task.timestamps)

    def join(self, task_name: str, pieces) -> Result:
        """One utterance's Result from its chunks' (offset seconds, best hypothesis), in
        order (module doc)."""
        task = self.registry[task_name]
        texts = [self.tokenizer.decode(h.tokens, skip_special_tokens=True) for _, h in pieces]
        parsed = [task.parse(t) for t in texts]
        out = Parsed(task=task.name)
        out.transcript = normalize(" ".join(p.transcript for p in parsed))
        for i, ((offset, _), p) in enumerate(zip(pieces, parsed)):
            out.alignment += [(s + offset, e + offset, w) for s, e, w in p.alignment]
            flags = (
                p.flags if i == len(parsed) - 1 else [f for f in p.flags if f != "missing_answer"]
            )
            out.flags += [f for f in flags if f not in out.flags]
        for f in task.fields:  # majority of the chunks that gave a label
            given = [p.labels.get(f) for p in parsed if p.labels.get(f) is not None]
            votes = Counter(given)
            best = max(votes.values(), default=0)
            out.labels[f] = next((x for x in given if votes[x] == best), None)
        if task.chat:
            out.answer = parsed[-1].answer
        return Result(
            task=task.name,
            text=" ".join(texts),
            parsed=out,
            score=sum(h.score for _, h in pieces) / len(pieces),
            chunks=texts,
        )
