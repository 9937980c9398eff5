"""Seed policy for online transaction scheduling: SMF (Shortest Makespan First) over the offered sample.

At every step the evaluator offers k = 5 randomly sampled pending transactions (oldest first); the policy
appends the one whose ASAP placement raises the makespan least. `choose` is the entry point.
"""


# EVOLVE-BLOCK-START
def choose(state, candidates):
    """Return the index (into `candidates`) of the transaction to append next."""
    best, best_span = 0, None
    for i, txn in enumerate(candidates):
        span = state.makespan_if_appended(txn)
        if best_span is None or span < best_span:
            best, best_span = i, span
    return best
# EVOLVE-BLOCK-END
