"""gunicorn settings for Heroku and `make run` (every value can be overridden from the environment)."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Each open chat holds one thread for its event stream; threads are cheap, so have many of them.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# Heroku's router gives up after 30 s; answer (or fail) before it does.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "25"))
graceful_timeout = 20
keepalive = 5
# Heroku terminates TLS; the app trusts one hop of X-Forwarded-* through ProxyFix.
forwarded_allow_ips = "*"
accesslog = None  # the app logs each request as JSON, without query strings
errorlog = "-"
