"""A program whose quality the cascade evaluator reads (OpenEvolve format)."""


# EVOLVE-BLOCK-START
def solve():
    quality = 0.4
    return quality
# EVOLVE-BLOCK-END


def run():
    return solve()
