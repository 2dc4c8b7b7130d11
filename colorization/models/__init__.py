"""Model builders, one file per paper network."""
