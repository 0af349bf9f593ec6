"""Pure and offline: resolved configs become Kubernetes objects and GitOps folders."""
