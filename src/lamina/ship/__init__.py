"""Shipping config to clusters: the one use case every path that writes to a cluster goes through."""
