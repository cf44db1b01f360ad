"""Use cases of the ``usage`` context: usage totals and budgets."""
