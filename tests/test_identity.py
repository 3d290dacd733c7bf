"""Login through the WeChat sandbox (real HTTP, real wechatpy), tokens and the account."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.accounts.models import User
from backend.extensions import db
from tests.permissions import login
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("clean")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_first_login_creates_the_user_and_later_logins_find_them(client, app) -> None:
    first = login(client, "alice")
    assert set(first) == {"token", "expires_at", "user"}
    assert first["expires_at"].endswith("+08:00")
    again = login(client, "alice")
    assert again["user"]["id"] == first["user"]["id"]
    assert login(client, "bob")["user"]["id"] != first["user"]["id"]
    with app.app_context():
        users = db.session.scalars(sa.select(User)).all()
        assert len(users) == 2
        assert all(u.openid and len(u.openid) == 28 for u in users)
    # Nothing WeChat gave us leaks back: no openid, no session key.
    text = str(first)
    assert "openid" not in text
    assert "session_key" not in text


def test_a_used_or_malformed_code_is_refused(client) -> None:
    assert client.post("/api/v1/auth/wechat-login", json={"code": "carol.once"}).status_code == 200
    reused = client.post("/api/v1/auth/wechat-login", json={"code": "carol.once"})
    assert reused.status_code == 401
    assert_error_shape(reused.get_json(), 401, "invalid_login_code")
    malformed = client.post("/api/v1/auth/wechat-login", json={"code": "not a code!"})
    assert_error_shape(malformed.get_json(), 401, "invalid_login_code")
    missing = client.post("/api/v1/auth/wechat-login", json={})
    assert missing.status_code == 422
    assert "code" in missing.get_json()["errors"]
    not_json = client.post("/api/v1/auth/wechat-login", data="code=x")
    assert not_json.status_code in (415, 422)


def test_me_needs_a_valid_token(client, clock) -> None:
    token = login(client, "dave")["token"]
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200

    missing = client.get("/api/v1/me")
    assert missing.status_code == 401
    assert_error_shape(missing.get_json(), 401, "unauthorized")

    tampered = token[:-2] + ("xy" if not token.endswith("xy") else "zz")
    response = client.get("/api/v1/me", headers=auth(tampered))
    assert response.status_code == 401
    assert_error_shape(response.get_json(), 401, "invalid_token")

    other_scheme = client.get("/api/v1/me", headers={"Authorization": f"Basic {token}"})
    assert_error_shape(other_scheme.get_json(), 401, "invalid_token")

    clock.advance(days=8)
    expired = client.get("/api/v1/me", headers=auth(token))
    assert expired.status_code == 401
    assert_error_shape(expired.get_json(), 401, "token_expired")


def test_profile_is_content_checked(client) -> None:
    token = login(client, "erin")["token"]
    ok = client.patch("/api/v1/me", json={"nickname": "社区志愿者小王"}, headers=auth(token))
    assert ok.status_code == 200
    assert ok.get_json()["nickname"] == "社区志愿者小王"
    flagged = client.patch("/api/v1/me", json={"nickname": "网络赌博"}, headers=auth(token))
    assert flagged.status_code == 422
    assert_error_shape(flagged.get_json(), 422, "content_rejected")
    hidden = client.patch("/api/v1/me", json={"nickname": "a\u200bb"}, headers=auth(token))
    assert hidden.status_code == 422
    plain_http = client.patch(
        "/api/v1/me", json={"avatar_url": "http://example.org/a.png"}, headers=auth(token)
    )
    assert plain_http.status_code == 422
    assert client.get("/api/v1/me", headers=auth(token)).get_json()["nickname"] == "社区志愿者小王"


def test_phone_binding_never_returns_the_number(client, app) -> None:
    answer = login(client, "frank")
    response = client.post("/api/v1/me/phone", json={"code": "phone:frank"},
                           headers=auth(answer["token"]))  # fmt: skip
    assert response.status_code == 200
    body = response.get_json()
    assert body["phone_bound"] is True
    with app.app_context():
        phone = db.session.get(User, answer["user"]["id"]).phone
    assert phone
    assert len(phone) == 11
    assert body["phone_masked"] == phone[:3] + "****" + phone[-4:]
    assert phone not in response.get_data(as_text=True)
    assert phone not in client.get("/api/v1/me", headers=auth(answer["token"])).get_data(
        as_text=True
    )
    bad = client.post("/api/v1/me/phone", json={"code": "nonsense"}, headers=auth(answer["token"]))
    assert bad.status_code == 400
    assert_error_shape(bad.get_json(), 400, "invalid_phone_code")


def test_deleting_the_account_removes_personal_data(client, app) -> None:
    answer = login(client, "grace")
    token = answer["token"]
    client.patch("/api/v1/me", json={"nickname": "格蕾丝"}, headers=auth(token))
    client.post("/api/v1/me/phone", json={"code": "phone:grace"}, headers=auth(token))
    assert client.delete("/api/v1/me", headers=auth(token)).status_code == 204
    with app.app_context():
        user = db.session.get(User, answer["user"]["id"])
        assert user.deleted_at is not None
        assert (user.openid, user.unionid, user.nickname, user.phone, user.avatar_url) == (
            None, None, None, None, None,
        )  # fmt: skip
    gone = client.get("/api/v1/me", headers=auth(token))
    assert_error_shape(gone.get_json(), 401, "invalid_token")
    # Logging in again is a new account, with none of the old data.
    again = login(client, "grace")
    assert again["user"]["id"] != answer["user"]["id"]
    assert again["user"]["nickname"] is None


def test_the_access_token_is_shared_through_redis(client, app, make_app, wechat_sandbox) -> None:
    token = login(client, "henry")["token"]
    client.patch("/api/v1/me", json={"nickname": "亨利"}, headers=auth(token))
    redis = app.extensions["redis"]
    keys = redis.keys("linshan:wechat:*access_token")
    assert len(keys) == 1
    cached = redis.get(keys[0])
    # Another process (another app) uses the cached token rather than fetching its own.
    other = make_app()
    with other.app_context():
        from backend.wechat.client import get_wechat

        assert get_wechat().access_token == cached.decode().strip('"')
