"""FIFO within the offer: always append the oldest offered transaction."""


def choose(state, candidates):
    return 0
