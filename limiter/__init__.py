"""Rate budgets shared by every process: one home for "at most N calls in any window of W"."""
