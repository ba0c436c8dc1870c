"""Patients: personas, fact-bounded patient policies, the measurement agent and the matcher."""
