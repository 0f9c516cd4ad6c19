"""Placeholder: completed by the infrastructure work (weights_only allow-list)."""


def allow_trusted_checkpoint_globals() -> None:
    """Allow-list the globals mmengine checkpoints need (no global bypass)."""
