"""Reusable test helpers for evolve and for plugin authors (contract checks, a scripted LLM server)."""
