"""Helpers every layer uses: the one atomic write, data-parallel processes, input checks."""
