"""Runs generated code in a persistent, resource-limited worker process."""

from da_cli.sandbox.health import SelfCheck, selfcheck
from da_cli.sandbox.session import ExecutionResult, Limits, Sandbox

__all__ = ["ExecutionResult", "Limits", "Sandbox", "SelfCheck", "selfcheck"]
