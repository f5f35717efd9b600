"""Python client for the Genova image and video generation API.

    from genova_client import Client

    client = Client()                      # GENOVA_URL, GENOVA_API_KEY
    results = client.generate("A cat playing piano in a jazz club")
    results[0].image                       # a PIL image
"""

from genova_client._core import DEFAULT_MODEL, DEFAULT_URL
from genova_client._core import VERSION as __version__
from genova_client.aio import AsyncClient
from genova_client.client import Client
from genova_client.errors import (
    AuthenticationError,
    Conflict,
    ConnectionError,
    GenovaError,
    InsufficientCredits,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationError,
    WaitTimeout,
)
from genova_client.results import Result, Results, grid_html
from genova_client.types import (
    ApiKey,
    Event,
    Job,
    JobCreated,
    JobPage,
    ModelInfo,
    Stats,
    Tokens,
    User,
)

__all__ = [
    "ApiKey",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "Conflict",
    "ConnectionError",
    "DEFAULT_MODEL",
    "DEFAULT_URL",
    "Event",
    "GenovaError",
    "InsufficientCredits",
    "Job",
    "JobCreated",
    "JobFailed",
    "JobPage",
    "ModelInfo",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "Result",
    "Results",
    "ServerError",
    "Stats",
    "Tokens",
    "User",
    "ValidationError",
    "WaitTimeout",
    "__version__",
    "grid_html",
]
