"""The model: Whisper log-mel frontend, Whisper encoder, OSUM adapter, the causal LLM with
LoRA, the splice of prompt, speech and target, OSUMModel (ESPnet's model), and checkpoint
reading."""
