"""``/ws/extension`` against real server processes: the worker protocol end to end."""

from __future__ import annotations

import io
import signal
import subprocess
import sys

import pytest
import requests
from PIL import Image

from tests.helpers import get_user, set_user
from tests.procs import ROOT, wait_until
from tests.realtime import Socket, create_job, get_job, register, start_server, ws_url

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url, redis_url):
    with start_server(tmp_path_factory.mktemp("server") / "var", database_url, redis_url) as s:
        yield s


_n = iter(range(10**6))


@pytest.fixture
def make_user(app, server):
    def make(plan="business"):
        data = register(server, f"ext-{next(_n)}@example.com")
        set_user(app, data["user"]["id"], plan=plan,
                 credits_remaining={"business": 10000, "free": 50}[plan])
        return data
    return make


@pytest.fixture
def pool_token(app):
    def make(platform="flow"):
        result = app.test_cli_runner().invoke(
            args=["worker-token", "create", f"pool-{platform}", "--platform", platform])
        assert result.exit_code == 0, result.output
        return result.output.strip().splitlines()[-1]
    return make


def connect(server, token, platform="flow", **query):
    sock = Socket(ws_url(server, "/ws/extension", token=token, extensionType=platform, **query))
    welcome = sock.recv()
    assert welcome["type"] == "welcome", welcome
    return sock, welcome


def png_bytes(size=(64, 36)):
    buf = io.BytesIO()
    Image.new("RGB", size, "teal").save(buf, "PNG")
    return buf.getvalue()


def upload(server, token, job_id, lease, files=None):
    parts = [("file", (f"r{i}.png", data, "image/png"))
             for i, data in enumerate(files or [png_bytes()])]
    return requests.post(f"{server.url}/api/jobs/{job_id}/results", files=parts, timeout=10,
                         headers={"Authorization": f"Bearer {token}", "X-Lease": lease})


def test_pool_worker_full_protocol(server, make_user, pool_token):
    user, token = make_user(), pool_token()
    watcher = Socket(ws_url(server, "/ws/user", token=user["accessToken"]))
    watcher.recv()
    worker, welcome = connect(server, token)
    assert welcome["scope"] == "pool" and welcome["extensionType"] == "flow"
    worker.send({"type": "request_job"})  # remembered: the job does not exist yet
    job_id = create_job(server, user, count=2, aspectRatio="square")
    offer = worker.recv()
    assert offer["type"] == "new_job" and offer["jobId"] == job_id
    assert offer["job"]["prompt"] == "a lighthouse at dusk" and offer["job"]["type"] == "image"
    assert offer["job"]["settings"]["aspectRatio"] == "square"
    worker.send({"type": "job_progress", "jobId": job_id, "progress": 40, "message": "halfway"})
    assert upload(server, token, job_id, offer["lease"], [png_bytes(), png_bytes()]
                  ).status_code == 201
    worker.send({"type": "job_completed", "jobId": job_id})
    assert worker.recv() == {"type": "ack", "jobId": job_id, "status": "completed"}
    kinds = [m["type"] for m in watcher.until("job_completed", job_id)]
    assert kinds == ["job_queued", "job_started", "job_progress", "job_completed"]
    job = get_job(server, user, job_id)
    assert job["status"] == "completed" and len(job["result_urls"]) == 2
    image = requests.get(f"{server.url}/api/jobs/{job_id}/download?index=1",
                         headers=user["headers"], timeout=10)
    assert image.status_code == 200 and image.content == png_bytes()


def test_reference_images_reach_the_worker_as_data_urls_of_their_real_type(server, make_user):
    """A JPEG source is stored as a JPEG (and a PNG as a PNG): the data URL's media type must
    say which, EXIF orientation applied and at most 512 px."""
    import base64

    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: 1200×800 on disk, 800×1200 upright
    buf = io.BytesIO()
    Image.new("RGB", (1200, 800), "navy").save(buf, "JPEG", exif=exif)
    jpeg = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    png = base64.b64encode(png_bytes()).decode()
    user = make_user()
    job_id = create_job(server, user, referenceImages={"images": [jpeg, png]})
    worker, _ = connect(server, user["accessToken"], userId=user["user"]["id"])
    worker.send({"type": "request_job"})
    offer = worker.until("new_job")[-1]
    assert offer["jobId"] == job_id
    seen = []
    for url in offer["job"]["referenceImages"]["images"]:
        media_type, _, data = url.removeprefix("data:").partition(";base64,")
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            assert Image.MIME[im.format] == media_type and not im.getexif()
            seen.append((media_type, im.size))
    assert seen == [("image/jpeg", (341, 512)), ("image/png", (64, 36))]


def test_user_scoped_worker_gets_only_its_users_jobs(server, make_user):
    alice, bob = make_user(), make_user()
    bobs = create_job(server, bob)
    worker, welcome = connect(server, alice["accessToken"], userId=alice["user"]["id"])
    assert welcome["scope"] == "user"
    worker.send({"type": "request_job", "count": 2})
    alices = create_job(server, alice)
    offer = worker.recv()
    assert offer["jobId"] == alices
    assert get_job(server, bob, bobs)["status"] == "queued"


def test_routing_by_platform(server, make_user, pool_token):
    user = make_user()
    freepik_job = create_job(server, user, model="freepik", aspectRatio="1:1")
    flow_job = create_job(server, user)
    flow_worker, _ = connect(server, pool_token("flow"))
    flow_worker.send({"type": "request_job"})
    assert flow_worker.recv()["jobId"] == flow_job
    freepik_worker, _ = connect(server, pool_token("freepik"), platform="freepik")
    freepik_worker.send({"type": "request_job"})
    offer = freepik_worker.recv()
    assert offer["jobId"] == freepik_job and offer["job"]["model"] == "freepik"
    wrong = Socket(ws_url(server, "/ws/extension", token=pool_token("flow"),
                          extensionType="freepik"))
    assert wrong.close_reason()[0] == 4403
    bad_type = Socket(ws_url(server, "/ws/extension", token=pool_token("flow"),
                             extensionType="midjourney"))
    assert bad_type.close_reason()[0] == 4400
    garbage = Socket(ws_url(server, "/ws/extension", token="gwt_nope", extensionType="flow"))
    assert garbage.close_reason()[0] == 4401


def _statuses(app, ids):
    """Read from the database: a free user's 10 requests a minute would not last the test."""
    from genova.extensions import db
    from genova.models import Job

    with app.app_context():
        return [db.session.get(Job, j).status for j in ids]


def test_pool_worker_asking_for_more_respects_the_users_cap(app, server, make_user, pool_token):
    user = make_user("free")  # two concurrent jobs
    ids = [create_job(server, user) for _ in range(4)]
    token = pool_token()
    worker, _ = connect(server, token)
    worker.send({"type": "request_job", "count": 4})
    first, second = worker.recv(), worker.recv()
    assert [first["jobId"], second["jobId"]] == ids[:2]
    assert _statuses(app, ids) == ["processing", "processing", "queued", "queued"]
    assert upload(server, token, first["jobId"], first["lease"]).status_code == 201
    worker.send({"type": "job_completed", "jobId": first["jobId"]})
    following = worker.until("new_job")
    assert following[-1]["jobId"] == ids[2]  # the freed slot, and only that one
    assert _statuses(app, ids) == ["completed", "processing", "processing", "queued"]


def test_disconnect_requeues_once_then_fails_and_refunds(app, server, make_user, pool_token):
    user, token = make_user(), pool_token()
    job_id = create_job(server, user)
    for attempt in (1, 2):
        worker, _ = connect(server, token)
        worker.send({"type": "request_job"})
        assert worker.recv()["jobId"] == job_id
        worker.close()  # mid-job
        expected = "queued" if attempt == 1 else "failed"
        wait_until(lambda s=expected: get_job(server, user, job_id)["status"] == s, 30)
    job = get_job(server, user, job_id)
    assert "stopped responding" in job["error_message"]
    assert get_user(app, user["user"]["id"]).credits_remaining == 10000


def test_a_silent_worker_is_closed_and_loses_its_job(server, make_user, pool_token):
    user, token = make_user(), pool_token()
    job_id = create_job(server, user)
    worker, _ = connect(server, token)
    worker.send({"type": "request_job"})
    offer = worker.recv()
    code, reason = worker.close_reason()  # we send nothing more: no pings
    assert code == 4408 and "released" in reason
    wait_until(lambda: get_job(server, user, job_id)["status"] == "queued", 30)
    # the late worker is fenced off: its upload and its lease are dead
    late = upload(server, token, job_id, offer["lease"])
    assert late.status_code == 409 and late.json()["error"] == "Lease lost"


def test_late_and_foreign_messages_are_rejected(server, make_user, pool_token):
    user, token = make_user(), pool_token()
    job_id = create_job(server, user)
    holder, _ = connect(server, token)
    holder.send({"type": "request_job"})
    offer = holder.recv()
    intruder, _ = connect(server, pool_token())
    intruder.send({"type": "job_completed", "jobId": job_id})
    assert intruder.recv()["type"] == "error"
    intruder.send({"type": "job_failed", "jobId": job_id, "error": "sabotage"})
    assert intruder.recv()["type"] == "error"
    holder.send({"type": "job_completed", "jobId": job_id})  # nothing uploaded yet
    assert "upload" in holder.recv()["error"]
    assert get_job(server, user, job_id)["status"] == "processing"
    holder.send({"type": "job_failed", "jobId": job_id, "error": "GPU melted"})
    assert holder.recv()["status"] == "failed"
    job = get_job(server, user, job_id)
    assert job["status"] == "failed" and job["error_message"] == "GPU melted"
    assert upload(server, token, job_id, offer["lease"]).status_code == 409


def test_upload_authorization(server, make_user, pool_token):
    owner, stranger = make_user(), make_user()
    token = pool_token()
    job_id = create_job(server, owner)
    worker, _ = connect(server, token)
    worker.send({"type": "request_job"})
    lease = worker.recv()["lease"]
    no_auth = requests.post(f"{server.url}/api/jobs/{job_id}/results", timeout=10,
                            files=[("file", ("a.png", png_bytes(), "image/png"))])
    assert no_auth.status_code == 401
    assert upload(server, stranger["accessToken"], job_id, lease).status_code == 404
    assert upload(server, owner["accessToken"], job_id, lease).status_code == 403
    assert upload(server, pool_token(), job_id, lease).status_code == 403
    assert upload(server, token, job_id, "999999").status_code == 409
    text = upload(server, token, job_id, lease, [b"just some text"])
    assert text.status_code == 400 and text.json()["field"] == "file"
    assert upload(server, token, job_id, lease).status_code == 201


def test_reference_extension_completes_real_jobs(tmp_path, server, make_user, pool_token):
    import base64

    user, token = make_user(), pool_token()
    ref = "data:image/png;base64," + base64.b64encode(png_bytes((300, 300))).decode()
    ids = [create_job(server, user, prompt=f"scene {i}") for i in range(3)]
    ids.append(create_job(server, user, referenceImages={"images": [ref]}))
    log = open(tmp_path / "extension.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "genova.remote_worker", "--url", server.url,
                             "--token", token, "--type", "flow", "--concurrency", "2"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        for job_id in ids:
            wait_until(lambda j=job_id: get_job(server, user, j)["status"] == "completed", 60,
                       lambda: (tmp_path / "extension.log").read_text()[-2000:])
        image = requests.get(f"{server.url}/api/jobs/{ids[-1]}/download",
                             headers=user["headers"], timeout=10)
        with Image.open(io.BytesIO(image.content)) as img:
            assert img.size == (1344, 756)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        log.close()


def test_bad_progress_and_results_are_refused_without_harm(server, make_user, pool_token):
    user, token = make_user(), pool_token()
    job_id = create_job(server, user, count=2)
    worker, _ = connect(server, token)
    worker.send({"type": "request_job"})
    lease = worker.recv()["lease"]
    worker.ws.send('{"type": "job_progress", "jobId": "' + job_id + '", "progress": NaN}')
    assert "progress" in worker.recv()["error"]
    worker.send({"type": "job_progress", "jobId": job_id, "progress": "half"})
    assert worker.recv()["type"] == "error"
    mp4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 32
    wrong = upload(server, token, job_id, lease, [mp4])
    assert wrong.status_code == 400 and "images" in wrong.json()["details"]
    too_many = upload(server, token, job_id, lease, [png_bytes()] * 3)
    assert too_many.status_code == 400 and "at most 2" in too_many.json()["details"]
    assert upload(server, token, job_id, lease, [png_bytes()] * 2).status_code == 201
    worker.send({"type": "ping"})
    assert worker.recv() == {"type": "pong"}  # the socket survived all of it


def test_revoking_a_worker_token_ends_its_sessions(app, server, make_user, pool_token):
    user, token = make_user(), pool_token()
    job_id = create_job(server, user)
    worker, _ = connect(server, token)
    worker.send({"type": "request_job"})
    assert worker.recv()["jobId"] == job_id
    runner = app.test_cli_runner()
    header, *listed = runner.invoke(args=["worker-token", "list"]).stdout.splitlines()
    assert header.split()[:2] == ["ID", "PLATFORM"]
    assert len(listed) == 1 and "flow" in listed[0]  # this test's token, and only it
    revoked = runner.invoke(args=["worker-token", "revoke", listed[0].split()[0]])
    assert revoked.exit_code == 0
    worker.send({"type": "ping"})
    code, reason = worker.close_reason()
    assert code == 4401 and "revoked" in reason
    wait_until(lambda: get_job(server, user, job_id)["status"] == "queued", 30)


def test_a_user_scoped_worker_may_use_an_api_key(server, make_user):
    user = make_user()
    key = requests.post(server.url + "/api/keys", json={"name": "worker"},
                        headers=user["headers"], timeout=10).json()["key"]
    job_id = create_job(server, user)
    worker = Socket(ws_url(server, "/ws/extension", apiKey=key, extensionType="flow"))
    assert worker.recv()["scope"] == "user"
    worker.send({"type": "request_job"})
    lease = worker.recv()["lease"]
    uploaded = requests.post(f"{server.url}/api/jobs/{job_id}/results", timeout=10,
                             files=[("file", ("a.png", png_bytes(), "image/png"))],
                             headers={"X-API-Key": key, "X-Lease": lease})
    assert uploaded.status_code == 201
    worker.send({"type": "job_completed", "jobId": job_id})
    assert worker.recv()["status"] == "completed"


def _noise_png(side: int) -> bytes:
    import random

    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3)).save(
        buf, "PNG")
    return buf.getvalue()


def test_uploads_must_be_what_they_claim_and_fit_the_limits(tmp_path, database_url,
                                                            redis_url, make_user):
    """Any user could run a user-scoped extension and upload 150 MiB of zeros behind a PNG
    signature, which signed links then served: free file hosting."""
    small = {"GENOVA_MAX_IMAGE_UPLOAD_BYTES": 100_000, "GENOVA_STORAGE_QUOTA_BYTES": 150_000}
    with start_server(tmp_path / "var", database_url, redis_url, **small) as limited:
        user = make_user()
        job_id = create_job(limited, user, count=4)
        worker, _ = connect(limited, user["accessToken"])
        worker.send({"type": "request_job"})
        lease = worker.recv()["lease"]
        fake = upload(limited, user["accessToken"], job_id, lease,
                      [b"\x89PNG\r\n\x1a\n" + bytes(3 * 1024 * 1024)])
        assert fake.status_code == 400 and fake.json()["field"] == "file[0]"
        big = upload(limited, user["accessToken"], job_id, lease, [_noise_png(300)])
        assert big.status_code == 413 and "GENOVA_MAX_IMAGE_UPLOAD_BYTES" in big.json()["details"]
        fits = _noise_png(150)  # ~67 KB: under the per-image cap
        assert len(fits) < 75_000
        for _ in range(2):  # 2 × 67 KB fit the 150 KB quota
            assert upload(limited, user["accessToken"], job_id, lease, [fits]).status_code == 201
        over = upload(limited, user["accessToken"], job_id, lease, [fits])
        assert over.status_code == 413 and over.json()["error"] == "Storage quota exceeded"
        stored = sorted(p.name for p in (tmp_path / "var" / "files").rglob("result-*"))
        assert stored == ["result-1.png", "result-2.png"]  # nothing else was kept
