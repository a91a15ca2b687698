"""Alerts: rules people set (rules), the evaluator that opens and clears alerts (evaluate)."""
