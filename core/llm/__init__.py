"""core/llm."""
