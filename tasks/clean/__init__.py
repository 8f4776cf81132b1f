"""Cleaning: the rule table and the line classifier (pure; the batch task calls it)."""
