"""gunicorn settings for the IOC web process behind nginx (deploy/nginx/ioc.conf). Sample for
production.

    cd /opt/ioc && .venv/bin/gunicorn -c deploy/gunicorn/gunicorn.conf.py

The app comes from the same factory as `python -m ioc web` (ioc.web.app:create_app), reading
every IOC_* setting from the environment (e.g. a systemd EnvironmentFile). Set there at least
REDIS_URL, MQTT_URL, IOC_SECRET_KEY, IOC_COOKIE_SECURE=1 (the portal is served over HTTPS) and
IOC_PROXY_HOPS=1 (nginx is the one proxy in front, so the audit log records the client's address
from X-Forwarded-For). tests/integration/test_security_headers.py runs gunicorn with this file.
"""

import multiprocessing
import os

# The Dash app object is a WSGI application; gunicorn calls the factory once per worker.
wsgi_app = "ioc.web.app:create_app()"

# Only nginx on this host talks to gunicorn; nothing else should reach it.
bind = os.environ.get("IOC_GUNICORN_BIND", "127.0.0.1:8050")

# Sync workers: every request is short (a Dash callback reads Redis and returns a few KB). Each
# big screen sends about one request every 2 s, so a handful of workers serves dozens of screens;
# the web process is stateless, so add hosts behind the load balancer rather than huge workers.
workers = int(os.environ.get("IOC_WEB_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
worker_class = "sync"
# A callback that takes longer than this is stuck (Redis commands time out after 5 s).
timeout = 30
graceful_timeout = 10
# nginx keeps connections to the upstream alive.
keepalive = 5
# Recycle workers now and then, so a slow leak in any library can never grow without bound.
max_requests = 5000
max_requests_jitter = 500
# Load the app in each worker (not in the master): a worker that cannot reach Redis at start still
# comes up and reports "data source unavailable", and reloads pick up new code.
preload_app = False

# Trust X-Forwarded-Proto and friends only from nginx on this host (the product's own ProxyFix,
# IOC_PROXY_HOPS=1, handles X-Forwarded-For for the audit log).
forwarded_allow_ips = "127.0.0.1,::1"
proxy_allow_ips = "127.0.0.1,::1"

# Request size limits: a Dash callback body is small; a case report with a long description is
# still far below these.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# Logs to stdout/stderr (journald). The access log has the path only, never the query string
# (%(U)s, not %(r)s or %(q)s): Open311 clients may pass their api_key in it. Kiosk links carry
# their secret in the path; the app redacts /kiosk/<secret> to /kiosk/… in this log itself
# (ioc.web.security_headers), so the format below is safe as long as it uses %(U)s.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("IOC_LOG_LEVEL", "info").lower()
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

# The name the processes show in ps and top.
proc_name = "ioc-web"
