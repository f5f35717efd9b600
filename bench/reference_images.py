"""Reference images under load: do image-heavy job submissions stall everyone else?

50 clients post jobs, each with one ~1 MB reference image (a 2400×1600 JPEG; ``--image png``
for 600×600 PNG noise), while a prober reads one job over and over. Prints JSON: the
POST latency and the prober's GET latency (ms).
Targets (issue 10): GET p95 < 50 ms, POST p95 < 800 ms on a 2-core machine.

    python bench/reference_images.py                   # starts its own app (temp data dir)
    python bench/reference_images.py --clients 50 --posts 4
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, percentiles, start_app


def one_megabyte_image(seed: int, kind: str = "jpeg") -> str:
    """About 1 MB, as an upload would be: a 2400×1600 photo-like JPEG (smooth shapes and
    grain), or with ``kind="png"`` a 600×600 PNG of noise (the worst case for PNG)."""
    rng = random.Random(seed)
    if kind == "png":
        image = Image.frombytes("RGB", (600, 600), rng.randbytes(600 * 600 * 3))
    else:
        image = Image.frombytes("RGB", (300, 200), rng.randbytes(300 * 200 * 3)).resize(
            (2400, 1600), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, format="PNG" if kind == "png" else "JPEG", quality=92)
    return f"data:image/{kind};base64," + base64.b64encode(buf.getvalue()).decode()


def run(url: str, key: str, clients: int, posts: int, kind: str) -> dict:
    headers = {"X-API-Key": key}
    images = [] if kind == "none" else [one_megabyte_image(i, kind) for i in range(8)]
    probe_job = requests.post(url + "/api/jobs", headers=headers, timeout=30, json={
        "type": "image", "prompt": "probe"}).json()["jobId"]
    post_ms, get_ms, statuses = [], [], {}
    done = threading.Event()

    def probe():
        with requests.Session() as session:
            while not done.is_set():
                started = time.perf_counter()
                session.get(f"{url}/api/jobs/{probe_job}", headers=headers, timeout=30)
                get_ms.append((time.perf_counter() - started) * 1000)
                time.sleep(0.02)

    def client(n: int):
        with requests.Session() as session:
            for i in range(posts):
                body = {"type": "image", "prompt": f"client {n} job {i}"}
                if images:
                    body["referenceImages"] = {"images": [images[(n + i) % len(images)]]}
                started = time.perf_counter()
                response = session.post(url + "/api/jobs", json=body, headers=headers,
                                        timeout=120)
                post_ms.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - started
    done.set()
    prober.join()
    image_bytes = len(base64.b64decode(images[0].split(",", 1)[1])) if images else 0
    return {"clients": clients, "posts": clients * posts, "image": kind,
            "image_bytes": image_bytes,
            "statuses": statuses, "seconds": round(elapsed, 2),
            "post_ms": percentiles(post_ms) | {"p95": _p95(post_ms)},
            "get_ms": percentiles(get_ms) | {"p95": _p95(get_ms)}}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--posts", type=int, default=4, help="jobs per client")
    parser.add_argument("--image", choices=["jpeg", "png", "none"], default="jpeg",
                        help="none: the same load without images (the job path's floor)")
    parser.add_argument("--web-workers", type=int, default=None,
                        help="GENOVA_WEB_WORKERS (default: the app's own default)")
    args = parser.parse_args()
    env = {} if args.web_workers is None else {"GENOVA_WEB_WORKERS": str(args.web_workers)}
    with tempfile.TemporaryDirectory() as tmp, start_app(
            Path(tmp), port=free_port(), workers=0, credits=100_000, **env) as app:
        print(json.dumps(run(app.url, app.api_key, args.clients, args.posts, args.image),
                         indent=2))


if __name__ == "__main__":
    main()
