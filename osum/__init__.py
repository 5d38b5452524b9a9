"""osum: OSUM-style speech understanding language models (Whisper encoder + adapter + LLM)."""

__version__ = "0.1.0"
