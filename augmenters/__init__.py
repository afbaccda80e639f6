"""augmenters."""
