"""FIFO: run the transactions in the order they arrived (the sequential schedule)."""


def schedule(txns):
    return list(range(len(txns)))
