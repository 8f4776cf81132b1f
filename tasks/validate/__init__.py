"""Validation against the pandera models (pure); the batch task in tasks/process calls it."""
