"""The no-op RQ job of the floor measurement."""


def noop() -> None:
    return None
