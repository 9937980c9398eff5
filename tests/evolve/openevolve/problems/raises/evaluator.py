"""Raises for a negative answer, as a buggy or strict evaluator might."""
import importlib.util


def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("program", program_path)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    value = program.answer()
    if value < 0:
        raise ValueError(f"the evaluator cannot score a negative answer ({value})")
    return {"combined_score": float(value)}
