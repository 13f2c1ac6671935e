"""Headless subcommands. Each module has `register(subparsers)`; `explorer.cli` lists them."""
