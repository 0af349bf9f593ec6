"""The only package that talks to Kubernetes (and to directory clusters)."""
