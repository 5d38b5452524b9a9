"""ASR+X: the task registry (tags, prompts, label sets, targets, parsing), the
preprocessor that builds prompt and target ids, the text normaliser and the SRWT format."""
