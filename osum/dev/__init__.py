"""Development tools: tiny random-weight models and the smoke run."""
