"""Benchmarks of fs_pandas; ``python -m benchmarks`` runs them all and prints one table."""
