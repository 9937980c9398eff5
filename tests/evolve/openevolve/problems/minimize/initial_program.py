"""A random search for the minimum of a two-variable function (OpenEvolve format)."""
import random


# EVOLVE-BLOCK-START
def search_algorithm(iterations=40, step=0.3, seed=0):
    """Random local search: try a step from the best point, keep it when it is lower."""
    rng = random.Random(seed)
    x, y = 3.0, 3.0
    best = evaluate_function(x, y)
    for _ in range(iterations):
        nx, ny = x + rng.uniform(-step, step), y + rng.uniform(-step, step)
        value = evaluate_function(nx, ny)
        if value < best:
            x, y, best = nx, ny, value
    return x, y, best
# EVOLVE-BLOCK-END


def evaluate_function(x, y):
    """The function to minimise: its minimum is 0 at (1, -2)."""
    return (x - 1.0) ** 2 + (y + 2.0) ** 2


def run_search():
    x, y, value = search_algorithm()
    return x, y, value
