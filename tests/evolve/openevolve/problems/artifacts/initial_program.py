"""Guess a hidden number (OpenEvolve format)."""


# EVOLVE-BLOCK-START
def guess():
    return 10
# EVOLVE-BLOCK-END
