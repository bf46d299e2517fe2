"""gunicorn settings for Heroku and `make run` (every value can be overridden from the environment)."""

import os
import signal

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Each open chat's event stream is one idle greenlet that holds no database connection while it
# waits (ferry/chatwake.py); short requests run beside it on the same event loop, and each worker
# refuses streams over CHAT_MAX_STREAMS, so requests always have capacity (README, "Live chat at scale").
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = int(os.environ.get("GUNICORN_CONNECTIONS", "2000"))
# Heroku's router gives up after 30 s; answer (or fail) before it does.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "25"))
graceful_timeout = 20
keepalive = 5
# Heroku terminates TLS; the app trusts one hop of X-Forwarded-* through ProxyFix.
forwarded_allow_ips = "*"
accesslog = None  # the app logs each request as JSON, without query strings
errorlog = "-"


def post_worker_init(worker):
    """On SIGTERM end the event streams first, so the graceful shutdown does not wait for them."""
    import threading

    from gevent import monkey, spawn

    from ferry.chatwake import stop_all

    previous = signal.getsignal(signal.SIGTERM)

    def handle_term(sig, frame):
        # Not in the handler itself: stopping waits for the listener, and under gevent the handler runs
        # in the hub, where nothing may block (not even starting a thread); a greenlet may.
        if monkey.is_module_patched("threading"):
            spawn(stop_all)
        else:  # another worker class, e.g. gthread for a comparison
            threading.Thread(target=stop_all, daemon=True).start()
        if callable(previous):
            previous(sig, frame)

    signal.signal(signal.SIGTERM, handle_term)
