"""Jinja2 prompt templates of the LLM mutators (system, diff, full, crossover, fix).

Copy this folder and point `prompts.dir=` at the copy to change them: a template found there wins,
the others come from here. Every template receives the variables listed in evolve/llm/prompts.py.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent
