"""asc: data-efficient, low-complexity acoustic scene classification (DCASE2024 Task 1 recipes)."""

__version__ = "0.1.0"
