"""``genova``: the Genova API from a shell (also ``python -m genova_client``).

Every command prints a readable table or ``key: value`` lines, or with ``--json`` the API's
own JSON on stdout; progress and notes go to stderr. Errors are one line on stderr and a
documented exit code (see ``EPILOG``), never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from genova_client import config, errors
from genova_client._core import DEFAULT_MODEL, DEFAULT_URL, VERSION
from genova_client.client import Client
from genova_client.results import extension_for

OK, FAILURE, USAGE, AUTH, NOT_FOUND, CREDITS, RATE_LIMITED = 0, 1, 2, 3, 4, 5, 6
UNREACHABLE, JOB_FAILED, INVALID, TIMED_OUT, INTERRUPTED = 7, 8, 9, 10, 130
BY_STATUS = {400: INVALID, 413: INVALID, 401: AUTH, 403: AUTH, 402: CREDITS, 404: NOT_FOUND,
             429: RATE_LIMITED}
LOGIN_HINT = "run `genova login`, or set GENOVA_API_KEY, or pass --api-key"

EPILOG = f"""\
examples:
  genova login
  genova generate "A cat playing piano" --model imagen4 --aspect landscape --count 2 -o out/
  genova jobs list --status queued --json
  genova download JOB_ID -o result.png

defaults: the server is --url, else GENOVA_URL, else the stored login's, else
{DEFAULT_URL}; the credential is --api-key, else GENOVA_API_KEY, else the login that
`genova login` stored in $GENOVA_CONFIG_DIR (else $XDG_CONFIG_HOME/genova, else
~/.config/genova) for that server.

exit codes:
  0    success
  1    any other error (e.g. HTTP 409: a job not completed yet or no longer cancellable;
       HTTP 5xx; a file that cannot be written)
  2    usage error (bad arguments, a --ref file that cannot be read)
  3    authentication or permission (HTTP 401/403, or no credentials configured)
  4    not found (HTTP 404)
  5    insufficient credits (HTTP 402)
  6    rate limited (HTTP 429)
  7    cannot reach the server
  8    the job failed or was cancelled (generate)
  9    invalid request (HTTP 400/413)
  10   generate --timeout passed (the job goes on)
  130  interrupted (Ctrl-C)
"""


class CliError(Exception):
    def __init__(self, message: str, code: int = FAILURE):
        super().__init__(message)
        self.code = code


# -- output -------------------------------------------------------------------------------
def emit_json(value) -> None:
    print(json.dumps(value, indent=2, default=str))


def note(message: str) -> None:
    print(f"genova: {message}", file=sys.stderr)


def when(value: str | None) -> str:
    return value.replace("T", " ")[:16] if value else "-"


def clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def fields(pairs) -> str:
    """``label: value`` lines, aligned; None values are left out."""
    pairs = [(label + ":", value) for label, value in pairs if value is not None]
    width = max((len(label) for label, _ in pairs), default=0)
    return "\n".join(f"{label:<{width}} {value}" for label, value in pairs)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def job_fields(job) -> str:
    raw, settings = job.raw, dict(job.settings)
    return fields([
        ("id", job.id), ("status", job.status), ("type", job.type),
        ("model", settings.pop("model", None)), ("prompt", job.prompt),
        ("settings", ", ".join(f"{k}={v}" for k, v in settings.items()) or None),
        ("queue position", job.queue_position), ("estimated time", job.estimated_time),
        ("progress", raw.get("progress")), ("created", raw.get("created_at")),
        ("started", raw.get("started_at")), ("completed", raw.get("completed_at")),
        ("processing time", job.processing_time), ("file size", job.file_size),
        ("results", len(job.result_keys) or None), ("error", job.error_message)])


# -- credentials --------------------------------------------------------------------------
def open_client(args) -> tuple[Client, dict | None]:
    """The client, and the stored login it uses (None for a key from --api-key or the
    environment). A stored login is only sent to the server it was made for."""
    key = args.api_key or os.environ.get("GENOVA_API_KEY")
    try:
        stored = config.load()
    except config.ConfigError:
        if args.auth and not key:
            raise
        stored = {}  # not needed: a key is given, or `login` replaces it
    url = (args.url or os.environ.get("GENOVA_URL") or stored.get("url") or DEFAULT_URL).rstrip("/")
    if key or not args.auth:
        return Client(url, api_key=key or None), None
    if stored and stored.get("url", "").rstrip("/") != url:
        raise CliError(f"not logged in to {url} (the stored login is for {stored.get('url')}): "
                       f"{LOGIN_HINT}", AUTH)
    if stored.get("api_key"):
        return Client(url, api_key=stored["api_key"]), None
    if stored.get("access_token"):
        return Client(url, token=stored["access_token"],
                      refresh_token=stored.get("refresh_token")), stored
    raise CliError(f"no credentials for {url}: {LOGIN_HINT}", AUTH)


def keep_tokens(client: Client, stored: dict | None) -> None:
    """Write back the tokens if the client refreshed them during the command."""
    tokens = {"access_token": client.token, "refresh_token": client.refresh_token}
    if stored is not None and any(stored.get(k) != v for k, v in tokens.items()):
        config.save({**stored, **tokens})


# -- commands: each returns (JSON for --json, text otherwise) -----------------------------
def read_reference(path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise CliError(f"--ref {path}: {exc.strerror or exc}", USAGE) from None


def cmd_generate(client: Client, args):
    if args.mode and not args.ref:
        raise CliError("--mode needs at least one --ref image", USAGE)
    refs = [read_reference(path) for path in args.ref]
    created = client.jobs.create(
        args.prompt, model=args.model, type=args.type, aspect_ratio=args.aspect,
        count=args.count, quality=args.quality, priority=args.priority,
        reference_images=refs or None, reference_mode=args.mode)
    try:
        return finish(client, args, created)
    except KeyboardInterrupt:
        note(f"job {created.job_id} goes on: `genova download {created.job_id}` once it is "
             f"done, or `genova jobs cancel {created.job_id}`")
        raise


def finish(client: Client, args, created):
    """Wait for the new job (a bar on stderr when it is a terminal) and save its files."""
    place = f" (queue position {created.queue_position})" if created.queue_position else ""
    note(f"job {created.job_id} {created.status}{place}")
    job = client.wait(created.job_id, timeout=args.timeout, progress=sys.stderr.isatty())
    if job.status != "completed":
        if args.json:
            emit_json({"job": job.raw, "files": []})
        raise errors.JobFailed(job)
    paths = [str(path) for path in client.results(job).save(args.output)]
    return {"job": job.raw, "files": paths}, "\n".join(paths)


def cmd_jobs_list(client: Client, args):
    page = client.jobs.list(status=args.status, limit=args.limit, offset=args.offset)
    data = {"jobs": [job.raw for job in page], "total": page.total}
    if not page.jobs:
        return data, f"no jobs ({page.total} in all)"
    rows = [[job.id, job.status, job.type, job.model or "-", when(job.raw.get("created_at")),
             clip(job.prompt, 40)] for job in page]
    return data, (table(["ID", "STATUS", "TYPE", "MODEL", "CREATED", "PROMPT"], rows)
                  + f"\n{args.offset + 1}-{args.offset + len(page)} of {page.total} jobs")


def cmd_jobs_get(client: Client, args):
    job = client.jobs.get(args.job_id)
    return job.raw, job_fields(job)


def cmd_jobs_cancel(client: Client, args):
    success = client.jobs.cancel(args.job_id)
    return ({"success": success, "id": args.job_id},
            f"cancelled job {args.job_id}; its credit is refunded")


def download_targets(job, indices: list[int], output: str | None) -> list[Path]:
    """One path per result: ``output`` itself for a single file, else files named like
    ``generate``'s (``JOB-INDEX.ext``) in the directory ``output`` (default: here)."""
    out, keys = Path(output or "."), job.result_keys
    if output and not out.is_dir() and not output.endswith(("/", os.sep)) and len(indices) == 1:
        return [out]
    return [out / f"{job.id}-{i}{extension_for(None, keys[i] if i < len(keys) else None)}"
            for i in indices]


def cmd_download(client: Client, args):
    job = client.jobs.get(args.job_id)
    indices = [args.index] if args.index is not None else list(range(len(job.result_keys)))
    indices = indices or [0]  # not completed: the API says why
    paths = []
    for index, target in zip(indices, download_targets(job, indices, args.output), strict=True):
        content = client.jobs.download(job.id, index=index)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        paths.append(str(target))
    return {"job": job.raw, "files": paths}, "\n".join(paths)


def cmd_keys_create(client: Client, args):
    key = client.keys.create(args.name)
    note("store the key now: it is shown only once")
    return key.raw, fields([("id", key.id), ("name", key.name), ("prefix", key.prefix),
                            ("key", key.key)])


def cmd_keys_list(client: Client, args):
    keys = client.keys.list()
    rows = [[k.id, clip(k.name, 30), k.prefix, when(k.raw.get("created_at")),
             when(k.raw.get("last_used_at"))] for k in keys]
    text = table(["ID", "NAME", "PREFIX", "CREATED", "LAST USED"], rows) if keys else "no keys"
    return {"keys": [k.raw for k in keys]}, text


def cmd_keys_revoke(client: Client, args):
    success = client.keys.revoke(args.key_id)
    return {"success": success, "id": args.key_id}, f"revoked key {args.key_id}"


def cmd_me(client: Client, args):
    user = client.user.me()
    credits = f"{user.credits_remaining} left, {user.credits_used} used this month"
    limits = f"{user.requests_per_minute} requests/min, {user.concurrent_jobs} concurrent jobs"
    return user.raw, fields([
        ("id", user.id), ("email", user.email), ("name", user.name),
        ("plan", f"{user.plan} ({user.subscription_status})"), ("credits", credits),
        ("monthly credits", user.monthly_credits), ("limits", limits),
        ("created", user.raw.get("created_at"))])


def cmd_stats(client: Client, args):
    stats = client.user.stats()
    return stats.raw, fields([(name.replace("_", " "), v) for name, v in stats.raw.items()])


def ask(label: str, secret: bool = False) -> str:
    """Read a value from the terminal; the prompt goes to stderr, never to stdout."""
    try:
        if secret:
            value = getpass.getpass(f"{label}: ")
        else:
            print(f"{label}: ", end="", file=sys.stderr, flush=True)
            line = sys.stdin.readline()
            if not line:
                print(file=sys.stderr)  # end the prompt's line at EOF
            value = line.strip()
    except EOFError:
        value = ""
    if not value:
        raise CliError(f"no {label.lower()} given (pass --{label.lower()})", USAGE)
    return value


def cmd_login(client: Client, args):
    if args.api_key:
        user = client.user.me()  # checks the key before storing it
        stored = {"url": client.base_url, "api_key": args.api_key}
    else:
        email = args.email or ask("Email")
        tokens = client.auth.login(email, args.password or ask("Password", secret=True))
        user = tokens.user
        stored = {"url": client.base_url, "email": user.email,
                  "access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
    path = config.save(stored)
    note(f"credentials saved in {path}")
    if os.environ.get("GENOVA_API_KEY") and not args.api_key:
        note("GENOVA_API_KEY is set: it takes precedence over this login")
    text = (f"logged in to {client.base_url} as {user.email} ({user.plan} plan, "
            f"{user.credits_remaining} credits)")
    return {"url": client.base_url, "user": user.raw, "credentials": str(path)}, text


def cmd_logout(client: Client, args):
    path = config.delete()
    return ({"success": True, "removed": str(path) if path else None},
            f"logged out (removed {path})" if path else "not logged in")


# -- the parser ---------------------------------------------------------------------------
def add_globals(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The global options, accepted before and after the command. Only the top-level
    parser has defaults, so a subcommand does not reset what was given before it."""
    kw = {} if defaults else {"default": argparse.SUPPRESS}
    parser.add_argument("--url", help="server URL (default: see below)", **kw)
    parser.add_argument("--api-key", metavar="KEY", help="API key (default: see below)", **kw)
    parser.add_argument("--json", action="store_true", help="print the API's JSON", **kw)


def add_command(sub, common, name: str, func, help: str, *positional, auth: bool = True):
    parser = sub.add_parser(name, parents=[common], help=help, description=help,
                            epilog="defaults and exit codes: see `genova --help`")
    parser.set_defaults(func=func, auth=auth)
    for arg in positional:
        parser.add_argument(arg)
    return parser


def add_group(sub, name: str, help: str):
    return sub.add_parser(name, help=help).add_subparsers(
        dest=f"{name}_action", required=True, metavar="ACTION")


def add_generate(sub, common) -> None:
    p = add_command(sub, common, "generate", cmd_generate, "create a job, wait for it with a "
                    "progress bar, save and print the files", "prompt")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"default {DEFAULT_MODEL}; one of "
                   "imagen4, nano_banana_pro, nano_banana2, veo3_fast, veo3_quality, veo2_fast, "
                   "freepik")
    p.add_argument("--type", choices=["image", "video"], help="default: from the model")
    p.add_argument("--aspect", help="Flow: landscape, portrait, square; Freepik: 1:1, 16:9...")
    p.add_argument("--count", type=int, help="results, 1-4 (videos: 1)")
    p.add_argument("--quality", help="Freepik: 1K or 2K")
    p.add_argument("--priority", type=int, help="queue priority (higher = sooner)")
    p.add_argument("--ref", action="append", default=[], metavar="IMAGE",
                   help="a reference image file (repeat for up to 4)")
    p.add_argument("--mode", help="reference mode: ingredients (Flow); style, character, "
                   "element, color, effects, camera (Freepik)")
    p.add_argument("--timeout", type=float, help="give up waiting after this many seconds")
    p.add_argument("-o", "--output", default=".", metavar="DIR",
                   help="directory for the files (default: the current one)")


def add_jobs(sub, common) -> None:
    jobs = add_group(sub, "jobs", "list, show and cancel jobs")
    p = add_command(jobs, common, "list", cmd_jobs_list, "list your jobs, newest first")
    p.add_argument("--status", choices=["pending", "queued", "processing", "completed",
                                        "failed", "cancelled"])
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    add_command(jobs, common, "get", cmd_jobs_get, "show one job", "job_id")
    add_command(jobs, common, "cancel", cmd_jobs_cancel,
                "cancel a queued job (its credit is refunded)", "job_id")
    p = add_command(sub, common, "download", cmd_download, "save a completed job's results",
                    "job_id")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="a file, or a directory (default: the current one)")
    p.add_argument("--index", type=int, help="only this result (0-based)")


def add_account(sub, common) -> None:
    keys = add_group(sub, "keys", "create, list and revoke API keys")
    add_command(keys, common, "create", cmd_keys_create, "create an API key (shown once)", "name")
    add_command(keys, common, "list", cmd_keys_list, "list your API keys")
    add_command(keys, common, "revoke", cmd_keys_revoke, "revoke an API key", "key_id")
    add_command(sub, common, "me", cmd_me, "your profile, plan and credits")
    add_command(sub, common, "stats", cmd_stats, "your generation statistics")
    p = add_command(sub, common, "login", cmd_login, "log in with email and password (or "
                    "store --api-key) for later commands", auth=False)
    p.add_argument("--email")
    p.add_argument("--password", help="default: asked for without echo")
    add_command(sub, common, "logout", cmd_logout, "forget the stored login", auth=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genova", description="Generate images and videos with the Genova API.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_globals(parser, defaults=True)
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    common = argparse.ArgumentParser(add_help=False)
    add_globals(common, defaults=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_generate(sub, common)
    add_jobs(sub, common)
    add_account(sub, common)
    return parser


# -- running ------------------------------------------------------------------------------
def describe(exc: errors.GenovaError, *, hint: bool = True) -> tuple[str, int]:
    """The error line and the exit code for an error from the client."""
    message = " ".join(exc.message.split())
    if isinstance(exc, errors.JobFailed):
        return f"{message} (job {exc.job.id})", JOB_FAILED
    if isinstance(exc, errors.WaitTimeout):
        return f"{message} (later: `genova download {exc.job_id}`)", TIMED_OUT
    if isinstance(exc, errors.ConnectionError):
        return f"{message}; is the server running? (set --url or GENOVA_URL)", UNREACHABLE
    code = BY_STATUS.get(exc.status, FAILURE)
    if code == AUTH and exc.status == 401 and hint:
        message += f"; {LOGIN_HINT}"
    elif code == RATE_LIMITED and getattr(exc, "retry_after", None) is not None:
        message += f"; retry after {exc.retry_after:g} s"
    return message, code


def run(args) -> int:
    client, stored = open_client(args)
    with client:
        try:
            data, text = args.func(client, args)
        except errors.GenovaError as exc:
            message, code = describe(exc, hint=args.func is not cmd_login)
            raise CliError(message, code) from None
        finally:
            keep_tokens(client, stored)
    if args.json:
        emit_json(data)
    elif text:
        print(text)
    sys.stdout.flush()  # a closed pipe is a BrokenPipeError here, not at exit
    return OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except CliError as exc:
        note(f"error: {exc}")
        return exc.code
    except config.ConfigError as exc:
        note(f"error: {exc} (run `genova logout`, then `genova login`)")
        return AUTH
    except KeyboardInterrupt:
        note("interrupted")
        return INTERRUPTED
    except BrokenPipeError:  # e.g. `genova jobs list | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILURE
    except OSError as exc:
        note(f"error: {exc}")
        return FAILURE


if __name__ == "__main__":
    sys.exit(main())
