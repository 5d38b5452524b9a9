"""Development tools: tiny random-weight models (tiny_models) and the tiny training setup
of the tests and benchmarks (tiny_setup)."""
