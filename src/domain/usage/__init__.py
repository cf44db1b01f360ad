"""Usage: what each reply cost, monthly totals and budgets."""
