"""Running untrusted candidate code: the sandbox child harness, its wire format, and dispatch to workers.

Knows nothing about any particular problem, the LLM layer or the archive.
"""

from __future__ import annotations
