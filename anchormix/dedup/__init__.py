"""Duplicate detection: exact (hash), near (MinHash LSH) and semantic (FAISS)."""
