"""Producing children: the offline AST mutator and LLM clients behind one `Mutator` interface."""
