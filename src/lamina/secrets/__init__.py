"""Secrets kept in the repository: SOPS-encrypted files, checked and decrypted by the real sops."""
