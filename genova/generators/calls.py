"""How Genova calls a provider: retries with back-off and jitter for faults that pass (429,
5xx, timeouts), within a budget; waits that give up as soon as the job must stop; and a
cap on jobs in flight at each provider across every worker, so Genova does not hammer an
account.
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from genova.catalog import MODELS
from genova.generators import GeneratedFile, GenerationError, ProviderUnavailable, Stopped

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class Transient:
    """A fault worth another try: what it was (for the log and the final message) and the
    provider's own Retry-After, if it sent one."""

    reason: str
    retry_after: float | None = None


def pause(seconds: float, stop: Callable[[], str | None]) -> None:
    """Sleep, but raise ``Stopped`` within 0.1 s of ``stop()`` giving a reason."""
    end = time.monotonic() + max(0.0, seconds)
    while True:
        if (reason := stop()) is not None:
            raise Stopped(reason)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.1, left))


def with_retries(call: Callable[[], object], *, classify: Callable[[Exception], object],
                 attempts: int, backoff: float, stop: Callable[[], str | None],
                 provider: str):
    """``call()`` until it succeeds. ``classify(exc)`` turns an exception into a
    ``Transient`` (try again after a back-off), a ``GenerationError`` (raised as is) or None
    (not the provider's fault: re-raised). After ``attempts`` transient faults the job fails
    with ``ProviderUnavailable``."""
    for attempt in range(1, max(1, attempts) + 1):
        if (reason := stop()) is not None:
            raise Stopped(reason)
        try:
            return call()
        except (Stopped, GenerationError):
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            verdict = classify(exc)
            if verdict is None:
                raise
            if isinstance(verdict, GenerationError):
                raise verdict from None
            if attempt >= attempts:
                raise ProviderUnavailable(
                    f"{provider} is not answering ({verdict.reason}) after {attempt} "
                    "tries; try again later") from None
            delay = min(MAX_BACKOFF, backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            if verdict.retry_after is not None:
                delay = min(MAX_BACKOFF, max(delay, verdict.retry_after))
            log.warning("%s: %s; try %d of %d again in %.1f s", provider, verdict.reason,
                        attempt + 1, attempts, delay)
            pause(delay, stop)
    raise AssertionError("unreachable")


def retry(settings, call: Callable[[], object], *, classify, stop, provider: str):
    """``with_retries`` with the operator's budget (``ProviderSettings``)."""
    return with_retries(call, classify=classify, attempts=settings.retries,
                        backoff=settings.backoff, stop=stop, provider=provider)


class ProviderModel:
    """One catalog model served by one of a provider's models (``provider_model``)."""

    is_ai_model = True
    name = "provider"  # each provider's says which

    def __init__(self, provider, model_id: str, provider_model: str):
        self.provider, self.model_id, self.provider_model = provider, model_id, provider_model

    def share_done(self, started: float) -> float:
        """How far a task that started at ``started`` (monotonic) probably is, 0 to 0.99,
        from the model's typical time: providers' long-running tasks report no progress."""
        elapsed = time.monotonic() - started
        return min(0.99, elapsed / max(1, MODELS[self.model_id].default_seconds))

    def image_file(self, data: bytes) -> GeneratedFile:
        """A result image as stored: its real format (providers send PNG, JPEG or WEBP
        whatever the URL says) and size; anything else fails the job."""
        try:
            with Image.open(io.BytesIO(data)) as im:
                size, mime = im.size, Image.MIME.get(im.format or "", "image/png")
        except OSError:
            raise GenerationError(f"{self.name.title()} returned a file that is not an "
                                  "image") from None
        return GeneratedFile(data, EXTENSIONS.get(mime, "png"), mime, *size)


_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  return 1
end
return 0
"""


class Slots:
    """At most ``limit`` jobs at one provider at a time, across all workers (a Redis sorted
    set of holders; a holder that died frees its slot after ``ttl`` seconds). Without Redis
    (a remote worker), the limit holds within the process."""

    def __init__(self, redis_client, name: str, limit: int, ttl: float):
        self.key, self.limit, self.ttl = f"genova:provider-slots:{name}", max(1, limit), ttl
        self.redis = redis_client
        self._acquire = redis_client.register_script(_ACQUIRE) if redis_client else None
        self._local = threading.BoundedSemaphore(self.limit)

    @contextlib.contextmanager
    def hold(self, stop: Callable[[], str | None]):
        if self._acquire is None:
            while not self._local.acquire(timeout=0.2):
                pause(0, stop)
            try:
                yield
            finally:
                self._local.release()
            return
        holder = uuid.uuid4().hex
        while True:
            now = time.time()
            if self._acquire(keys=[self.key],
                             args=[now, self.limit, now + self.ttl, holder]):
                break
            pause(0.2, stop)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self.redis.zrem(self.key, holder)
