"""Producing children: the `Mutator` protocol the loop drives, and its implementations by config name."""
