"""LLM access: providers and their clients, the models a configuration names, and the LLM mutator."""
