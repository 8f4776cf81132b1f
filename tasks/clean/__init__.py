"""Cleaning: the rule table and the line classifier (pure; the batch task calls it)."""

from tasks.clean.native import use_fresh_modules

# Before any engine module is imported: compiled only when built from the current sources.
BUILD_STATE = use_fresh_modules()
