"""Browser tests: one sign-in per user per module.

Each test still starts from a clean Chromium page, its own app server and a Redis holding none
of the previous test's city, alarms, cases, tokens or audit entries; but the users a module's
tests sign in as (`account`, `sign_in_as`) and their sessions stay in Redis from one test of the
module to the next. The first test that needs the operator 张三 signs in through the sign-in
page; the next ones get the same session cookie back and open their page straight away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import connect_redis
from tests.conftest import add_test_user, browser_sign_in

KEPT = {keys.USERS.encode(), keys.SECRET_KEY.encode()}  # the users, and the key their session cookies are signed with
KEPT_PREFIX = f"{keys.SESSIONS}:".encode()  # the sessions


@dataclass
class Account:
    name: str
    password: str
    cookies: list[dict] = field(default_factory=list)  # the session of the browser signed in as this user


@pytest.fixture(scope="module")
def accounts(redis_server_proc):
    """The module's users by (roles, name, display name, department); the module starts on an
    empty Redis (a previous module may have left its users)."""
    client = connect_redis(redis_server_proc.url)
    client.flushall()
    client.close()
    return {}


@pytest.fixture
def redis_client(redis_server_proc, accounts):
    """The test Redis, emptied of everything but the module's users and sessions (see above)."""
    client = connect_redis(redis_server_proc.url)
    doomed = [k for k in client.scan_iter(count=1000) if k not in KEPT and not k.startswith(KEPT_PREFIX)]
    for i in range(0, len(doomed), 1000):
        client.delete(*doomed[i:i + 1000])
    yield client
    client.close()


@pytest.fixture
def account(accounts, user_store):
    """`account("operator", name="zhangsan", display_name="张三")` -> the module's Account for
    that user, added to the user store the first time it is asked for."""

    def get(*roles: str, name: str | None = None, display_name: str = "", department: str = "") -> Account:
        spec = (roles, name, display_name, department)
        if spec not in accounts:
            accounts[spec] = Account(*add_test_user(user_store, *roles, name=name, display_name=display_name,
                                                    department=department))
        return accounts[spec]

    return get


@pytest.fixture
def sign_in_as(dash_duo, account):
    """`sign_in_as("operator", name=…, display_name=…, department=…, next_path="/")`: the browser
    signed in as that user (see `account`) on `next_path` of the test's server, Dash drawn;
    returns the Account. The first time in the module through the sign-in page, then with the
    session it opened (signed in again if that session has ended)."""

    def sign_in(*roles: str, next_path: str = "/", **user) -> Account:
        known = account(*roles, **user)
        base = dash_duo.server.url.rstrip("/")
        if known.cookies:
            for cookie in known.cookies:
                dash_duo.driver.execute_cdp_cmd("Network.setCookie", {
                    "url": base, "name": cookie["name"], "value": cookie["value"], "path": cookie.get("path", "/"),
                    "httpOnly": cookie.get("httpOnly", False), "sameSite": cookie.get("sameSite", "Lax")})
            dash_duo.set_base_url(base)
            dash_duo.driver.get(base + next_path)
            if "/login" not in dash_duo.driver.current_url:
                dash_duo.wait_for_element("#page", timeout=15)
                return known
            dash_duo.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        browser_sign_in(dash_duo, known.name, known.password, next_path=next_path)
        known.cookies = dash_duo.driver.get_cookies()
        return known

    return sign_in
