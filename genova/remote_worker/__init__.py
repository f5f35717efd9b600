"""A headless reference worker that speaks the ``/ws/extension`` protocol.

Run it anywhere that can reach the server, for example a GPU machine::

    python -m genova.remote_worker --url http://host:8000 --token T --type flow --concurrency 2

``T`` is a pool-worker token (``flask --app app worker-token create``) or a user's access
JWT (then it serves only that user's jobs). The protocol is in docs/extension-protocol.md.
"""
