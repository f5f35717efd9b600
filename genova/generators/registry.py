"""Which generator serves which model.

``FACTORIES`` maps every catalog model id to a zero-argument factory returning the
``Generator`` for it. Today every factory returns one shared ``ProceduralGenerator``: the
offline, deterministic placeholder renderer, which is not an AI model.

Registering a real provider means writing a class that satisfies the ``Generator`` protocol
(``name``, ``is_ai_model = True``, ``generate(request, progress)``, plus a ``describe()``
dict, which ``genova.tasks`` stores with the results) and pointing the model's entry at a
factory for it, for example::

    FACTORIES["imagen4"] = lambda: ImagenGenerator(api_key=...)

A factory should return a long-lived instance (build the client once and close over it),
because ``for_model`` calls it for every job. Planned, not implemented: the environment
variable ``GENOVA_GENERATORS`` (e.g. ``imagen4=mypkg.imagen:factory,veo3_fast=...``), read
by ``create_app`` through the config, will override entries of this table, so operators can
swap providers without code changes. Models it does not name keep the procedural default.
"""

from __future__ import annotations

from collections.abc import Callable

from genova.catalog import MODELS
from genova.generators import Generator
from genova.generators.procedural import ProceduralGenerator

GeneratorFactory = Callable[[], Generator]

PROCEDURAL = ProceduralGenerator()


def _procedural() -> Generator:
    return PROCEDURAL


FACTORIES: dict[str, GeneratorFactory] = {model_id: _procedural for model_id in MODELS}


def for_model(model_id: str) -> Generator:
    """The generator serving ``model_id``; ``KeyError`` for a model the catalog lacks."""
    try:
        factory = FACTORIES[model_id]
    except KeyError:
        raise KeyError(f"no generator is registered for model {model_id!r}") from None
    return factory()
