"""`python -m cli`: the same command line as `steadfast`."""

from cli import main

if __name__ == "__main__":  # not in a renderer worker, which imports this as __mp_main__
    main()
