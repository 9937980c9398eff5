"""Returns an EvaluationResult whose artifacts tell the next attempt which way to go."""
import importlib.util

from openevolve.evaluation_result import EvaluationResult

HIDDEN = 37


def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("program", program_path)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    value = program.guess()
    print(f"evaluator saw the guess {value}")
    hint = "too low: guess higher" if value < HIDDEN else "too high: guess lower" if value > HIDDEN else "exact"
    return EvaluationResult(
        metrics={"combined_score": 1.0 / (1.0 + abs(value - HIDDEN)), "guess": float(value)},
        artifacts={"feedback": f"the guess {value} is {hint}", "raw_log": b"bytes are sent as text"},
    )
