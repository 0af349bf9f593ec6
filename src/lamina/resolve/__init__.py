"""Layers in, one exact config per target out: merging, directives, interpolation, references, provenance."""
