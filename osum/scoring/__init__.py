"""Scoring: metrics, per-task scores of a decode dir, results tables."""
