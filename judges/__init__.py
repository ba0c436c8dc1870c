"""Judges: rubric judges (built-in and LLM), the committee and scoring."""
