"""Scores run_search() by how close it gets to the minimum, as OpenEvolve's function_minimization does."""
import concurrent.futures
import importlib.util
import time

import numpy as np


def run_with_timeout(func, timeout_seconds=5):
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(func).result(timeout=timeout_seconds)


def _score(program_path, target=(1.0, -2.0)):
    spec = importlib.util.spec_from_file_location("program", program_path)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    if not hasattr(program, "run_search"):
        return {"combined_score": 0.0, "error": "Missing run_search function"}
    start = time.time()
    x, y, _ = run_with_timeout(program.run_search)
    x, y = float(x), float(y)
    true_value = (x - 1.0) ** 2 + (y + 2.0) ** 2
    distance = float(np.hypot(x - target[0], y - target[1]))
    return {
        "value_score": 1.0 / (1.0 + true_value),
        "distance_score": 1.0 / (1.0 + distance),
        "combined_score": 0.5 / (1.0 + true_value) + 0.5 / (1.0 + distance),
        "seconds_taken": round(time.time() - start, 0),
    }


def evaluate(program_path):
    return _score(program_path)


def evaluate_holdout(program_path):
    """A second look, kept from the search: the same score without the timing metric."""
    metrics = _score(program_path)
    metrics.pop("seconds_taken")
    return metrics
