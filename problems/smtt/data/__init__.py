"""Cached reference values (exact optima) of the SMTT splits and benchmark instances.

A package only so that a non-editable install ships the JSON files.
"""
