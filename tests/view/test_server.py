"""The view server serves its page and the files it was given, nothing else (no browser needed)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from splatkit.errors import InputError
from splatkit.view import camera_fragment, parse_camera_fragment, resolve_source
from splatkit.view.server import STATIC_FILES
from splatkit.view.sources import RUN_REPORT_FILES, RUN_REPORT_HTML, RUN_REPORT_JSON, VIEWER_PLACEHOLDER
from tests.view.conftest import running


def _get(server, path: str, method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        # skip_host/accept_encoding: send the path exactly as given (no client-side clean-up).
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def test_a_sog_is_served_with_the_page_and_nothing_else(sog_file: Path, tmp_path: Path) -> None:
    secret = sog_file.parent / "secret.txt"
    secret.write_text("not for the browser")
    with running(sog_file) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, body, headers = _get(server, "/data/scene.sog")
        assert status == 200 and body == sog_file.read_bytes()
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        status, body, _ = _get(server, "/view.json")
        view = json.loads(body)
        assert status == 200 and view["format"] == "sog" and view["url"] == "/data/scene.sog"
        assert view["count"] == 2000 and view["sh_degree"] == 3 and view["bytes"] == sog_file.stat().st_size
        for name in STATIC_FILES:
            assert _get(server, f"/viewer/{name}")[0] == 200, name
        assert b"viewer.js" in _get(server, "/")[1]
        refused = ["/data/secret.txt", "/data/../secret.txt", "/data/%2e%2e/secret.txt", "/data/..%2fsecret.txt",
                   "/viewer/../data/secret.txt", "//etc/passwd", "/etc/passwd", f"/{secret}", "/data/scene.sog/",
                   "/data//scene.sog", "/viewer/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "data/scene.sog",
                   "/data/scene.sog%00.txt"]
        for path in refused:
            status, body, _ = _get(server, path)
            assert status == 404 and b"not for the browser" not in body, path
        assert _get(server, "/data/scene.sog", method="HEAD")[0] == 200
        assert _get(server, "/data/scene.sog", method="POST")[0] == 501
        assert ("/data/../secret.txt", 404) in server.requests


def test_a_sog_folder_serves_its_meta_and_the_images_it_names(cloud, tmp_path: Path) -> None:
    from splatkit.compress.sog_encoder import SogEncodeOptions, encode_sog
    from splatkit.io.sog import write_sog

    folder = write_sog(encode_sog(cloud, SogEncodeOptions(sh_degree=0)).bundle, tmp_path / "scene_sog", bundled=False)
    source = resolve_source(folder)
    names = {p.name for p in folder.iterdir()}
    assert set(source.routes) == {f"/data/scene_sog/{n}" for n in names}
    assert source.splat["layout"] == "folder" and source.splat["url"] == "/data/scene_sog/meta.json"
    assert resolve_source(folder / "meta.json").splat["layout"] == "folder"


def test_a_ply_is_served_and_an_ascii_ply_is_re_encoded(ply_file: Path, cloud, tmp_path: Path) -> None:
    from splatkit.io.ply import decode_ply

    source = resolve_source(ply_file)
    assert source.kind == "ply" and source.splat["sh_degree"] == 3 and source.splat["count"] == 2000
    ascii_ply = tmp_path / "tiny_ascii.ply"
    ascii_ply.write_text("ply\nformat ascii 1.0\nelement vertex 1\n" + "".join(
        f"property float {n}\n" for n in ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0",
                                           "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"))
        + "end_header\n1 2 3 0.1 0.2 0.3 0.5 -2 -2 -2 1 0 0 0\n")
    route = resolve_source(ascii_ply).routes["/data/tiny_ascii.ply"]
    assert route.data is not None
    decoded = decode_ply(route.data)
    assert np.allclose(decoded.means, [[1, 2, 3]])


def _run_folder(tmp_path: Path, final: Path | None) -> Path:
    run = tmp_path / "run"
    (run / RUN_REPORT_FILES / "heldout").mkdir(parents=True)
    (run / RUN_REPORT_FILES / "heldout" / "a_render.png").write_bytes(b"png")
    (tmp_path / "outside.txt").write_text("not for the browser")
    (run / RUN_REPORT_FILES / "link.txt").symlink_to(tmp_path / "outside.txt")
    (run / RUN_REPORT_JSON).write_text(json.dumps({"out_dir": "/elsewhere/run",
                                                   "final_file": None if final is None else str(final)}))
    (run / RUN_REPORT_HTML).write_text(f"<html><body><h1>report</h1>{VIEWER_PLACEHOLDER}</body></html>")
    return run


def test_a_run_folder_serves_its_report_with_the_viewer_on_the_final_file(sog_file: Path, tmp_path: Path) -> None:
    run = _run_folder(tmp_path, None)
    (run / "compress").mkdir()
    (run / "compress" / "scene.sog").write_bytes(sog_file.read_bytes())
    # The report names the final file where the run was written; the folder was moved since.
    (run / RUN_REPORT_JSON).write_text(json.dumps({"out_dir": "/elsewhere/run",
                                                   "final_file": "/elsewhere/run/compress/scene.sog"}))
    with running(run) as server:
        status, page, _ = _get(server, "/")
        assert status == 200 and b'<iframe id="splatkit-viewer" src="/viewer/"' in page
        assert _get(server, "/report_files/heldout/a_render.png")[0] == 200
        assert _get(server, "/report_files/link.txt")[0] == 404           # a symlink out of the folder
        assert _get(server, "/data/scene.sog")[0] == 200
        assert _get(server, "/compress/scene.sog")[0] == 404
        assert json.loads(_get(server, "/view.json")[1])["format"] == "sog"


def test_a_run_without_a_final_file_still_serves_its_report(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, None)
    with running(run) as server:
        status, page, _ = _get(server, "/")
        assert status == 200 and b"iframe" not in page
        assert "error" in json.loads(_get(server, "/view.json")[1])


@pytest.mark.parametrize("make", ["text", "folder", "missing", "bad_sog", "not_3dgs_ply"])
def test_anything_else_is_refused_with_a_one_line_error(make: str, tmp_path: Path) -> None:
    path = tmp_path / {"text": "notes.txt", "folder": "photos", "missing": "nothing.sog", "bad_sog": "broken.sog",
                       "not_3dgs_ply": "mesh.ply"}[make]
    if make == "text":
        path.write_text("hello")
    elif make == "folder":
        path.mkdir()
        (path / "a.jpg").write_bytes(b"jpeg")
    elif make == "bad_sog":
        path.write_bytes(b"PK\x03\x04 not really a zip")
    elif make == "not_3dgs_ply":
        path.write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
                        "property float z\nend_header\n0 0 0\n")
    with pytest.raises(InputError):
        resolve_source(path)
    proc = subprocess.run([sys.executable, "-m", "splatkit.view", str(path), "--no-browser"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("splatkit: error: ") and str(path) in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_camera_fragment_round_trips() -> None:
    viewmat = np.eye(4)
    viewmat[:3, :3] = [[0, 1, 0], [0, 0, -1], [-1, 0, 0]]
    viewmat[:3, 3] = [0.1, 0.2, 3.0000000001]
    K = np.array([[300.5, 0, 160], [0, 301.25, 120.5], [0, 0, 1]])
    back, K2, size = parse_camera_fragment("#" + camera_fragment(viewmat, K, 320, 240))
    assert np.array_equal(back, viewmat) and np.array_equal(K2, K) and size == (320, 240)
    with pytest.raises(InputError):
        parse_camera_fragment("viewmat=1,2,3&K=1,1,1,1&size=2,2")


def test_the_report_and_the_server_agree_on_names() -> None:
    from splatkit.pipeline import report

    assert (RUN_REPORT_JSON, RUN_REPORT_HTML, RUN_REPORT_FILES) == (report.REPORT_JSON, report.REPORT_HTML,
                                                                    report.REPORT_FILES)
    assert VIEWER_PLACEHOLDER == report.VIEWER_PLACEHOLDER


def test_the_page_ships_in_the_package() -> None:
    from importlib import resources

    static = resources.files("splatkit.view").joinpath("static")
    assert all(static.joinpath(name).is_file() for name in STATIC_FILES)
    shipped = {p.name for p in Path(str(static)).iterdir()}
    assert shipped == set(STATIC_FILES), "list every static file in splatkit.view.server.STATIC_FILES"


def test_add_view_parser_wires_the_command() -> None:
    import argparse

    from splatkit.view.cli import add_view_parser, cmd_view

    parser = argparse.ArgumentParser(prog="splatkit")
    add_view_parser(parser.add_subparsers())
    args = parser.parse_args(["view", "out/demo", "--port", "8123", "--no-browser"])
    assert (args.func, args.path, args.port, args.no_browser) == (cmd_view, "out/demo", 8123, True)


def test_the_command_prints_the_url_and_serves_until_stopped(ply_file: Path) -> None:
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "splatkit.view", str(ply_file), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("splatkit view: viewer (ply) for ") and "http://127.0.0.1:" in line, line
        url = line.split()[-1]
        host, port = url.split("//")[1].rstrip("/").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/view.json")
        assert json.loads(conn.getresponse().read())["name"] == ply_file.name
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)      # Ctrl-C: a clean stop, exit status 0
        assert proc.wait(timeout=30) == 0
        proc.stdout.close()
        proc.stderr.close()
