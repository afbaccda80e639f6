"""Shared by every package: record schemas, dataset I/O, answer parsing, LLM backends."""
