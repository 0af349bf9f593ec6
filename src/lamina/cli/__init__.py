"""The ``lamina`` command: thin adapters over the library, one module per verb."""
