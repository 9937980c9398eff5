"""Shortest first: append the offered transaction with the fewest operations (ties: the oldest), blind
to conflicts."""


def choose(state, candidates):
    return min(range(len(candidates)), key=lambda i: (len(candidates[i]), i))
