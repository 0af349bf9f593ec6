"""Read the config repository: the working tree or a git revision, as files with line numbers.

This is the only package that parses TOML, YAML and JSON.
"""
