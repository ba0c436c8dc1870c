"""Starting a local Ray on a machine never used before: its token, its socket folder, an unreachable head."""

import socket
import stat

import pytest

from arena import ray_local
from arena.ray_local import RayStartError, _auth_token, _check_reachable, _session_root


def test_a_token_is_made_before_ray_looks_for_it(tmp_path):
    token = _auth_token(tmp_path)
    assert token == tmp_path / ".ray" / "auth_token"
    secret = token.read_text(encoding="utf-8")
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert _auth_token(tmp_path).read_text(encoding="utf-8") == secret  # kept, so every node shares it
    assert [p.name for p in token.parent.iterdir()] == ["auth_token"]  # no draft left beside it


def test_an_empty_token_is_replaced(tmp_path):
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("", encoding="utf-8")
    assert len(_auth_token(tmp_path).read_text(encoding="utf-8")) == 64


def test_ray_start_env_and_init_share_the_token(tmp_path, monkeypatch):
    monkeypatch.setattr(ray_local.tempfile, "gettempdir", lambda: str(tmp_path))
    env = ray_local.ray_start_env({})
    assert env["RAY_AUTH_TOKEN_PATH"] == str(tmp_path / f"medarena-ray-home-{ray_local.os.getuid()}/.ray/auth_token")
    assert (tmp_path / env["RAY_AUTH_TOKEN_PATH"]).read_text(encoding="utf-8")


def test_sessions_move_to_a_short_folder_only_when_tmpdir_is_too_long(tmp_path, monkeypatch):
    monkeypatch.setattr(ray_local.tempfile, "gettempdir", lambda: "/tmp")
    assert _session_root() is None
    monkeypatch.setattr(ray_local.tempfile, "gettempdir", lambda: "/" + "x" * 60)
    root = _session_root()
    assert root is not None and len(root) + len(ray_local._SESSION_SOCKET) - len("/ray") <= 107


def test_an_address_where_nothing_listens_fails_at_once_in_one_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RayStartError, match=rf"^cannot join Ray at 127\.0\.0\.1:{port}: Connection refused$"):
        _check_reachable(f"127.0.0.1:{port}")


def test_an_address_that_listens_passes_the_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        _check_reachable(f"127.0.0.1:{s.getsockname()[1]}")
    _check_reachable("ray://127.0.0.1:10001")  # Ray client addresses are left to Ray
