"""One module per ``crampwatch`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args)``."""
