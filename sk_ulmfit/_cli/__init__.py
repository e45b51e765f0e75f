"""The ``sk-ulmfit`` command: its subcommands, tables, and the cleaner's local web page."""
