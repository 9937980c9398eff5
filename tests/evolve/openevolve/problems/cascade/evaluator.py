"""A three-stage cascade: each stage reports that it ran; the thresholds (config.yaml) decide how far it goes."""
import importlib.util


def _quality(program_path):
    spec = importlib.util.spec_from_file_location("program", program_path)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    return float(program.run())


def evaluate_stage1(program_path):
    return {"combined_score": _quality(program_path), "stage1_ran": 1.0, "error": "stage-1 text is kept"}


def evaluate_stage2(program_path):
    return {"combined_score": _quality(program_path), "stage2_ran": 1.0}


def evaluate_stage3(program_path):
    return {"combined_score": _quality(program_path) + 0.05, "stage3_ran": 1.0}


def evaluate(program_path):
    return {"combined_score": _quality(program_path), "direct_ran": 1.0}
