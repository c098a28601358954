"""`python -m bot.cli`: the same command line as `steadfast`."""

from bot.cli import main

main()
