"""A program whose evaluator fails on some outputs (OpenEvolve format)."""


# EVOLVE-BLOCK-START
def answer():
    return 1
# EVOLVE-BLOCK-END
