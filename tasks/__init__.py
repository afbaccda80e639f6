"""Problem families beside GSM8K (countdown, novel_ops): one module each, loaded by name through tasks.registry."""
