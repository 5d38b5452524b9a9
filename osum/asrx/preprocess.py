"""ESPnet preprocess function: prompt and target token ids built at load time.

One dump (audio or features plus the data dir's text files) serves any prompt wording
and any task: the utterance's task information (``utt2taskinfo``, data name ``task``)
and transcript (``text``) become the prompt and the ASR+X target here, through the task
registry, and are tokenised with the LLM's own tokenizer.
"""

import json
from typing import Dict, Mapping, Sequence

import numpy as np

from osum.asrx.registry import build_registry
from osum.asrx.text_norm import normalize
from osum.model.llm import load_tokenizer

MAX_SECONDS = 30.0  # the Whisper encoder's window
SAMPLE_RATE = 16000
PROMPT_CACHE = 1024  # prompts whose token ids are kept
FRAMES_PER_SECOND = 100


QWEN_END = "<|endoftext|>"  # ends OSUM's targets (Qwen2's id 151643)


class OSUMPreprocessor:
    """Adds ``prompt`` ids and turns the task's target into ``text`` ids + the end token.

    Args:
        train: training mode (ESPnet passes it): a random prompt wording per sample;
            otherwise the first prompt of the first language (fixed, for validation).
        tokenizer: the LLM dir holding the tokenizer.
        prompt: one fixed prompt for every utterance instead of the task's prompts.
        prompt_languages: which of the tasks' prompt languages to use (en, zh).
        task_conf: arguments of :func:`osum.asrx.registry.build_registry` (label sets, prompts).
        end_token: appended to every target; the LLM learns to stop on it. None: Qwen2's
            ``<|endoftext|>`` (OSUM's) where the tokenizer has it, else its ``eos_token``
            (``</s>`` for Llama 2 and Vicuna, ``<eos>`` for Gemma).
        speech_name, text_name, task_name: data names in the ESPnet dataset.
        ctc_text: also add ``ctc_text``, the transcript's token ids (empty for tasks
            without a transcript), for the model's CTC head (``ctc_weight`` > 0).
        ctc_labels: with ``ctc_text``, a label task's CTC target is its transcript and its
            label tags (``i am fine<happy>``, as the LM target) instead of the transcript
            alone, as ESPnet's SLU recipes put the intent in the CTC target: the encoder
            learns to hear the labels, not only the words. SRWT's times and STTC's answer
            stay out (they are not sounds). For an encoder-only phase (``ctc_weight`` 1);
            joint CTC decoding expects a CTC head trained on transcripts.
        label_weight: weight in the LM loss of the target tokens that follow the
            transcript (the "X" of ASR+X: label tags such as ``<happy>``, STTC's answer
            marker and answer), relative to the other target tokens; with a value other
            than 1 the preprocessor adds ``text_weight``, one weight per target token. A
            label is one decision but a small share of the tokens of a target.
        task_weight: a weight per task name (``{SRWT: 2.0}``) on all of its target tokens,
            on top of ``label_weight``; tasks not named keep 1. With weights set the
            preprocessor adds ``text_weight`` as for ``label_weight``. Weighting the
            labels takes loss share from the other targets; this gives a task it back.
    """

    def __init__(
        self,
        train: bool,
        tokenizer: str,
        prompt: str | None = None,
        prompt_languages: Sequence[str] = ("en", "zh"),
        task_conf: Mapping | None = None,
        end_token: str | None = None,
        speech_name: str = "speech",
        text_name: str = "text",
        task_name: str = "task",
        ctc_text: bool = False,
        ctc_labels: bool = False,
        label_weight: float = 1.0,
        task_weight: Mapping[str, float] | None = None,
    ):
        self.train = train
        self.tokenizer = load_tokenizer(tokenizer)
        if end_token is None:
            has_qwen_end = QWEN_END in self.tokenizer.get_vocab()
            end_token = QWEN_END if has_qwen_end else self.tokenizer.eos_token
        if end_token is None or end_token not in self.tokenizer.get_vocab():
            raise ValueError(f"end token {end_token!r} is not in the tokenizer of {tokenizer}")
        self.end_id = self.tokenizer.convert_tokens_to_ids(end_token)
        self.registry = build_registry(**(task_conf or {}))
        self.prompt = prompt
        self.prompt_languages = list(prompt_languages)
        self.speech_name, self.text_name, self.task_name = speech_name, text_name, task_name
        self._prompt_ids: Dict[str, np.ndarray] = {}
        self.ctc_text = ctc_text
        self.ctc_labels = ctc_labels
        if label_weight <= 0:
            raise ValueError(f"label_weight must be > 0, got {label_weight}")
        self.label_weight = float(label_weight)
        self.task_weight = {str(k): float(v) for k, v in (task_weight or {}).items()}
        unknown = sorted(set(self.task_weight) - set(self.registry))
        if unknown:
            raise ValueError(
                f"task_weight names unknown tasks {unknown}; known: {list(self.registry)}"
            )
        bad = {k: v for k, v in self.task_weight.items() if not v > 0}
        if bad:
            raise ValueError(f"task_weight must be > 0, got {bad}")
        self.weighted = self.label_weight != 1.0 or any(v != 1.0 for v in self.task_weight.values())

    def encode(self, text: str):
        return self.tokenizer.encode(text, add_special_tokens=False)

    def prompt_ids(self, prompt: str) -> np.ndarray:
        """The ids of a prompt, kept for the next time (the last PROMPT_CACHE prompts: a
        server's questions do not pile up)."""
        if prompt not in self._prompt_ids:
            if len(self._prompt_ids) >= PROMPT_CACHE:  # the oldest goes
                del self._prompt_ids[next(iter(self._prompt_ids))]
            self._prompt_ids[prompt] = np.array(self.encode(prompt), dtype=np.int64)
        return self._prompt_ids[prompt].copy()

    def prompt_for(self, task_name: str, question: str | None = None) -> str:
        """The task's prompt, then the utterance's own question if it has one."""
        if self.prompt is not None:
            prompt = self.prompt
        elif self.train:
            prompt = self.registry[task_name].sample_prompt(self.prompt_languages)
        else:
            prompt = self.registry[task_name].prompt(self.prompt_languages[0], 0)
        return f"{prompt} {question.strip()}" if question and question.strip() else prompt

    def __call__(self, uid: str, data: Dict[str, str | np.ndarray]) -> Dict[str, np.ndarray]:
        speech = data.get(self.speech_name)
        if speech is not None:
            data[self.speech_name] = self._check_speech(uid, speech)
        info = {"task": "ASR"}
        if self.task_name in data:
            try:
                info = json.loads(data.pop(self.task_name))
            except json.JSONDecodeError as e:
                raise ValueError(f"utterance {uid}: task information is not JSON ({e})") from None
        name = info.get("task")
        if name not in self.registry:
            raise ValueError(
                f"utterance {uid}: unknown task {name!r}; known: {list(self.registry)}"
            )
        if self.text_name in data:
            text = data[self.text_name]
            if not isinstance(text, str):
                raise TypeError(f"utterance {uid}: text must be a string")
            try:
                target = self.registry[name].build_target(dict(info, text=text))
            except ValueError as e:
                raise ValueError(f"utterance {uid}: {e}") from None
            ids = self.encode(target) + [self.end_id]
            data[self.text_name] = np.array(ids, dtype=np.int64)
            if self.weighted:
                weight = (
                    self._weights(self.registry[name], text, ids)
                    if self.label_weight != 1.0
                    else np.ones(len(ids), dtype=np.float32)
                )
                data["text_weight"] = weight * np.float32(self.task_weight.get(name, 1.0))
            if self.ctc_text:
                data["ctc_text"] = np.array(self._ctc_ids(name, info, text), dtype=np.int64)
        data["prompt"] = self.prompt_ids(self.prompt_for(name, info.get("question")))
        return data

    def _ctc_ids(self, name: str, info: Mapping, text: str) -> list:
        """The CTC target: the transcript (none for tasks without one), and with
        ``ctc_labels`` a label task's tags after it."""
        task = self.registry[name]
        if self.ctc_labels and task.fields:
            return self.encode(task.build_target(dict(info, text=text)))
        said = task.transcript or task.timestamps or task.chat
        return self.encode(normalize(text)) if said else []

    def _weights(self, task, text: str, ids) -> np.ndarray:
        """``label_weight`` on the target's tokens after the transcript (tags, answer)."""
        weight = np.ones(len(ids), dtype=np.float32)
        if (task.fields or task.chat) and not task.timestamps:
            head = self.encode(normalize(text)) if task.transcript else []
            first = len(head)
            while first > 0 and ids[:first] != head[:first]:  # merged across the boundary
                first -= 1
            weight[first:-1] = self.label_weight  # the tags; the end token keeps 1
        return weight

    @staticmethod
    def _check_speech(uid: str, speech: np.ndarray) -> np.ndarray:
        if speech.size == 0:
            raise ValueError(f"utterance {uid}: empty audio or features")
        if speech.ndim == 2 and speech.shape[1] <= 8:  # (samples, channels) audio
            speech = speech.mean(axis=1)
        seconds = len(speech) / (SAMPLE_RATE if speech.ndim == 1 else FRAMES_PER_SECOND)
        if seconds > MAX_SECONDS:
            raise ValueError(
                f"utterance {uid}: {seconds:.1f} s is longer than the encoder's "
                f"{MAX_SECONDS:.0f} s window; segment or filter it out of the data dir"
            )
        if not np.isfinite(speech).all():
            raise ValueError(f"utterance {uid}: audio or features contain NaN or inf")
        return speech
