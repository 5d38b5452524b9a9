"""Decoding: batched search (greedy, sampling, beam search, joint CTC, monotonic times),
Speech2Text, and decoding a data dir."""
