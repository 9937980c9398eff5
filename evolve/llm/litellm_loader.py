"""Importing litellm lazily (it takes seconds), without its network fetch of the price table."""

from __future__ import annotations

import logging
import os
from typing import Any


def load_litellm() -> Any:
    """The litellm module, imported on first use with the bundled price table and quiet logging."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    logging.getLogger("LiteLLM").setLevel(max(logging.getLogger("LiteLLM").level, logging.ERROR))
    return litellm
