"""Run the command-line interface: ``python -m palaestra``."""

from palaestra.cli import main

if __name__ == "__main__":
    main()
