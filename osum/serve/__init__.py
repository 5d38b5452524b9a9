"""Serving: an OpenAI-compatible HTTP API over the decoding engine (transcriptions, chat
completions with audio, models, health, Prometheus metrics) and the demo page."""
