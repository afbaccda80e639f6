"""What generations show: reasoning behaviours (rule-based detector and LLM judge), for the report and evaluation."""
