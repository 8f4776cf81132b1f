"""Extraction: article fields from the cleaner's line decisions (pure)."""
