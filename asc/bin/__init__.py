"""Entry points, one per stage or tool: `python -m asc.bin.<verb>`."""
