"""JSON shapes that the CLI prints and the API returns, built once from library values."""
