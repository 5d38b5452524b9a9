"""ESPnet preprocess function: prompt and target token ids built at load time.

One dump (audio or features plus the data dir's text files) serves any prompt wording:
the prompt and the target are tokenised here, with the LLM's own tokenizer.
"""

from typing import Dict

import numpy as np

from osum.llm import load_tokenizer

DEFAULT_PROMPT = "Transcribe the speech."
MAX_SECONDS = 30.0  # the Whisper encoder's window
SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100


class OSUMPreprocessor:
    """Adds ``prompt`` ids and turns ``text`` into target ids ending with the end token.

    Args:
        train: training mode (ESPnet passes it).
        tokenizer: the LLM dir holding the tokenizer.
        prompt: the plain-text prompt (no chat template, as in OSUM).
        end_token: appended to every target; the LLM learns to stop on it.
        speech_name, text_name: data names in the ESPnet dataset.
    """

    def __init__(
        self,
        train: bool,
        tokenizer: str,
        prompt: str = DEFAULT_PROMPT,
        end_token: str = "<|endoftext|>",
        speech_name: str = "speech",
        text_name: str = "text",
    ):
        self.train = train
        self.tokenizer = load_tokenizer(tokenizer)
        if end_token not in self.tokenizer.get_vocab():
            raise ValueError(f"end token {end_token!r} is not in the tokenizer of {tokenizer}")
        self.end_id = self.tokenizer.convert_tokens_to_ids(end_token)
        self.prompt_ids = np.array(self.encode(prompt), dtype=np.int64)
        self.speech_name = speech_name
        self.text_name = text_name

    def encode(self, text: str):
        return self.tokenizer.encode(text, add_special_tokens=False)

    def __call__(self, uid: str, data: Dict[str, str | np.ndarray]) -> Dict[str, np.ndarray]:
        speech = data.get(self.speech_name)
        if speech is not None:
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
            data[self.speech_name] = speech
        if self.text_name in data:
            text = data[self.text_name]
            if not isinstance(text, str):
                raise TypeError(f"utterance {uid}: text must be a string")
            data[self.text_name] = np.array(self.encode(text) + [self.end_id], dtype=np.int64)
        data["prompt"] = self.prompt_ids.copy()
        return data
