"""Stand-ins for outside services, so tests, benchmarks and the local stack run offline."""
