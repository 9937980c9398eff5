"""Problem plugins shipped with evolve: each subpackage provides `make(options) -> Problem`."""
