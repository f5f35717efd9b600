"""Running jobs through a real provider's code against its local fake (the app comes from
the ``provider_app`` fixture in conftest): a job posted over the API, claimed and generated
in-process as an RQ worker would, with the user's events captured from Redis."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from genova import runtime, tasks
from genova.catalog import MODELS
from genova.services import events, lifecycle
from tests.helpers import register


@dataclass
class Run:
    created: dict
    job: dict
    events: list[dict]
    outcome: dict | BaseException | None
    user: dict

    @property
    def credits(self) -> int:
        return self.user["client"].get("/api/user/me", headers=self.user["headers"]
                                       ).get_json()["credits_remaining"]

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


def run_job(app, body: dict, *, user=None, while_running=None) -> Run:
    """POST ``body``, then claim and generate it as a worker would. ``while_running(claim)``
    runs in a thread alongside the generator (to cancel, expire a lease...)."""
    client, rt = app.test_client(), runtime.of(app)
    user = user or register(client, plan="business")
    user["client"] = client
    pubsub = rt.redis.pubsub()
    pubsub.subscribe(events.channel(user["user"]["id"]))
    pubsub.get_message(timeout=5)
    response = client.post("/api/jobs", json=body, headers=user["headers"])
    created = response.get_json()
    outcome = None
    if response.status_code == 201:
        outcome = _generate(app, rt, MODELS[body["model"]].platform, while_running)
    heard = []
    while (message := pubsub.get_message(timeout=0.2)) is not None:
        if message["type"] == "message":
            heard.append(json.loads(message["data"]))
    pubsub.close()
    job = (client.get(f"/api/jobs/{created['jobId']}", headers=user["headers"]).get_json()
           if response.status_code == 201 else {})
    return Run(created | {"status_code": response.status_code}, job, heard, outcome, user)


def _generate(app, rt, platform: str, while_running):
    with app.app_context():
        claim, _ = lifecycle.claim_next(rt, platform=platform, worker_id="provider-test")
        side = None
        if while_running is not None:
            side = threading.Thread(target=while_running, args=(app, claim), daemon=True)
            side.start()
        try:
            return tasks.generate(claim.job_id, claim.lease)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            return exc
        finally:
            if side is not None:
                side.join(10)


def download(app, job: dict, index: int = 1) -> bytes:
    client = app.test_client()
    url = job["download_urls"][index - 1]
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return response.data
