"""Fault tests start real processes: the e2e fixtures (``run_cli``, ``start_server``) serve here too."""

from tests.e2e.conftest import cli_env, run_cli, start_server

__all__ = ["cli_env", "run_cli", "start_server"]
