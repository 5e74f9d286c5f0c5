"""A site of several cameras from one file, in one process: one camera dead, the others counting."""

import json
import socket

import numpy as np
import pytest

from maskwatch.cli import main
from maskwatch.clips import face_sprite, make_walk_clip
from maskwatch.imageio import read_image

pytest.importorskip("trackers")


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: the camera is unreachable
    return port


@pytest.fixture(scope="module")
def clips(tmp_path_factory, examples):
    sprites = [
        face_sprite(read_image(examples / "closeup_563.jpg"), (70, 53, 204, 205)),  # with_mask
        face_sprite(read_image(examples / "street_717.jpg"), (76, 128, 142, 185)),  # without_mask
    ]
    d = tmp_path_factory.mktemp("site")
    out = []
    for k, walks in enumerate(
        [
            [(0, 0.12, 0.88, 0.6, 0, 59)],  # one masked person, left to right
            [(1, 0.88, 0.12, 0.6, 0, 59), (0, 0.12, 0.88, 0.6, 90, 149)],  # bare right to left, then masked
            [(1, 0.12, 0.88, 0.6, 10, 69)],  # one bare face, left to right
        ]
    ):
        make_walk_clip(sprites, walks, d / f"cam{k}.avi", frames=160, seed=k)
        out.append(d / f"cam{k}.avi")
    return out


def write_site(path, clips, dead_port, scales=None):
    cams = "".join(
        f'[[cameras]]\nname = "cam{k}"\nsource = "{c}"\ndetect_fps = 12.5\nlines = {{ door = [0.5, 0.0, 0.5, 1.0] }}\n'
        + (f"detect_scale = {scales[k]}\n" if scales else "")
        + "zones = { right = [0.5, 0.0, 1.0, 0.0, 1.0, 1.0, 0.5, 1.0] }\n\n"
        for k, c in enumerate(clips)
    )
    # The files end the site: a live camera would keep it running by default.
    cams = 'stop = "when-files-end"\n\n' + cams
    cams += f'[[cameras]]\nname = "dead"\nsource = "http://127.0.0.1:{dead_port}/stream.mjpg"\n'
    path.write_text(cams)
    return path


def test_a_site_of_four_cameras_with_one_dead(clips, tmp_path, capsys, monkeypatch):
    from maskwatch.pipeline import Detector

    scales_used, find_faces = set(), Detector.find_faces

    def recording(self, image, scale=1.0):
        scales_used.add(scale)
        return find_faces(self, image, scale)

    monkeypatch.setattr(Detector, "find_faces", recording)
    # cam2 detects on its frames shrunk to half (its face, about 90 px tall, is 45 px there)
    site = write_site(tmp_path / "site.toml", clips, closed_port(), scales=[1, 1, 0.5])
    out, events = tmp_path / "site.json", tmp_path / "ev.jsonl"
    rc = main(["site", str(site), "--summary", str(out), "--events", str(events), "--threads", "2"])
    s = json.loads(out.read_text())
    assert set(s["cameras"]) == {"cam0", "cam1", "cam2", "dead"}
    assert rc == 1  # the dead camera is reported; the others' results are all there
    dead = s["cameras"]["dead"]["health"]
    assert dead["state"] in ("down", "stopped") and dead["opens_failed"] >= 1 and dead["error"]
    lines = {n: c["lines"]["door"] for n, c in s["cameras"].items() if n != "dead"}
    assert lines["cam0"]["in"]["with_mask"] == 1 and lines["cam0"]["out_total"] == 0
    assert lines["cam1"]["out"]["without_mask"] == 1 and lines["cam1"]["in"]["with_mask"] == 1
    assert lines["cam2"]["in"]["without_mask"] == 1
    assert s["cameras"]["cam2"]["detect_scale"] == 0.5 and s["cameras"]["cam0"]["detect_scale"] == 1.0
    assert scales_used == {1.0, 0.5}  # cam2's frames reached the detector with its scale
    assert s["totals"]["people"] == 4 and s["totals"]["with_mask"] == 2 and s["totals"]["without_mask"] == 2
    for name in ("cam0", "cam1", "cam2"):  # sampled at detect_fps: every 2nd frame of a 25 fps file
        h = s["cameras"][name]["health"]
        assert h["state"] == "ended" and h["frames_read"] == 160 and 78 <= h["frames_analysed"] <= 82
        assert h["frames_skipped"] == 160 - h["frames_analysed"]  # never converted
    got = [json.loads(x) for x in events.read_text().splitlines()]
    assert {e["camera"] for e in got} == {"cam0", "cam1", "cam2"}
    assert sum(1 for e in got if e["event"] == "line_crossed") == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[cameras]]\nname = "a"\n', "missing 'source'"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\ndetect_fsp = 5\n', "unknown key 'detect_fsp' (did you mean 'detect_fps'?)"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\ndetect_fps = 0\n', "detect_fps must be"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\ndetect_scale = 2\n', "detect_scale must be a number in [0.2, 1]"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\ndetect_scale = "fast"\n', "or \"auto\", got 'fast'"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\nlines = { d = [0.5, 0, 0.5] }\n', "lines.d: give 4 numbers"),
        ('[[cameras]]\nname = "a"\nsource = "x"\n[[cameras]]\nname = "a"\nsource = "y"\n', "two cameras have this name"),
        ("cameras = 3\n", "no cameras"),
        ("[[cameras]\n", "not valid TOML"),
        (
            '[outputs]\nmqtt_prefix = "x"\n[[cameras]]\nname = "a"\nsource = "x"\n',
            'mqtt_prefix without mqtt: add mqtt = "mqtt://host:1883"',
        ),
        ('[outputs]\nmqtt = "http://b"\n[[cameras]]\nname = "a"\nsource = "x"\n', "[outputs]: mqtt needs mqtt://host"),
        ('[outputs]\nmetrics_port = "9100"\n[[cameras]]\nname = "a"\nsource = "x"\n', "metrics_port must be a port number"),
        # checked before any camera starts, each naming the camera and the key (#44)
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\nout = 5\n', "camera 'a': out must be a .mp4 or .avi file name"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\nout = "a.txt"\n', "camera 'a': out must be a .mp4 or .avi"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\nfps = "fast"\n', "camera 'a': fps (a frames folder's rate) must be"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\nfps = -5\n', "camera 'a': fps (a frames folder's rate) must be"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\ndetect_fps = 1e-300\n', "camera 'a': detect_fps must be"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\nblur = "yes"\n', "camera 'a': blur must be true or false"),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\nzones = { q = [[0, 0], [0.5]] }\n', "zones.q: write each point as [x, y]"),
        ('stop = "sometimes"\n[[cameras]]\nname = "a"\nsource = "x"\n', "stop must be one of"),
        (
            '[[cameras]]\nname = "door"\nsource = "x"\n[[cameras]]\nname = "door!"\nsource = "y"\n',
            "camera 'door!': name maps to the same MQTT topic",
        ),
        ('[[cameras]]\nname = "a"\nsource = "x.mp4"\nout = "x.mp4"\n', "is the input camera 'a' source x.mp4"),
        (
            '[[cameras]]\nname = "a"\nsource = "x"\nout = "o.mp4"\n[[cameras]]\nname = "b"\nsource = "y"\nout = "o.mp4"\n',
            "camera 'b' out o.mp4 is also camera 'a' out",
        ),
        ('[outputs]\nsummary = "s.json"\nevents = "s.json"\n[[cameras]]\nname = "a"\nsource = "x"\n', "give each output its own file"),
        ('runtime = "tensorrt"\n[[cameras]]\nname = "a"\nsource = "x"\n', "runtime must be one of auto, onnxruntime"),
        ('parts = "nope.onnx"\n[[cameras]]\nname = "a"\nsource = "x"\n', "parts 'nope.onnx' is not a model file"),
    ],
)
def test_bad_site_files_are_one_line(tmp_path, text, message, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.mp4").write_bytes(b"a video the user has")
    site = tmp_path / "bad.toml"
    site.write_text(text)
    assert main(["site", str(site)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert (tmp_path / "x.mp4").read_bytes() == b"a video the user has"


def test_site_file_runtime_and_parts_keys(tmp_path):
    from maskwatch.video.site import load_site

    site = tmp_path / "s.toml"
    site.write_text('runtime = "onnxruntime"\nparts = "off"\n[[cameras]]\nname = "a"\nsource = "x"\n')
    spec = load_site(site)
    assert spec.runtime == "onnxruntime" and spec.parts == "off"


def test_zones_and_lines_as_lists_of_points(tmp_path):
    from maskwatch.video.site import load_site

    site = tmp_path / "s.toml"
    site.write_text(
        '[[cameras]]\nname = "a"\nsource = "x"\nzones = { left = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] }\n'
        "lines = { door = [[0.5, 0], [0.5, 1]] }\n"
    )
    cam = load_site(site).cameras[0]
    assert cam.zones["left"] == (0, 0, 0.5, 0, 0.5, 1, 0, 1) and cam.lines["door"] == (0.5, 0, 0.5, 1)


def test_video_never_writes_over_its_input(tmp_path, capsys):
    from maskwatch.clips import make_walk_clip

    clip = tmp_path / "v.avi"
    make_walk_clip([np.full((40, 40, 3), 128, np.uint8)], [(0, 0.1, 0.9, 0.5, 0, 9)], clip, frames=12)
    before = clip.read_bytes()
    assert main(["video", "--source", str(clip), "--out", str(clip)]) == 2
    assert "it would be destroyed" in capsys.readouterr().err
    assert main(["video", "--source", str(clip), "--events", str(tmp_path / "e"), "--summary", str(tmp_path / "e")]) == 2
    assert "give each output its own file" in capsys.readouterr().err
    assert clip.read_bytes() == before and not (tmp_path / "e").exists()


def test_the_site_page_in_a_real_browser(clips, tmp_path):
    import shutil

    from test_serve import Server

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian chromium is not installed (setup.sh installs it where it can)")
    sync_api = pytest.importorskip("playwright.sync_api")
    site = write_site(tmp_path / "site.toml", clips[:2], closed_port())
    s = Server("--site", str(site))
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            try:
                page = browser.new_page()
                requests = []
                page.on("request", lambda r: requests.append(r.url))
                page.goto(s.url + "/site")
                # The file cameras end after a few seconds; the page then shows the final counts.
                page.wait_for_function("window.maskwatchSite && window.maskwatchSite.running === false", timeout=120000)
                page.wait_for_timeout(1500)  # one more refresh draws the final state
                state = page.evaluate("window.maskwatchSite")
                assert set(state["cameras"]) == {"cam0", "cam1", "dead"}
                assert state["cameras"]["cam1"]["lines"]["door"]["out"]["without_mask"] == 1
                assert page.locator(".cam").count() == 3
                assert "ended" in page.inner_text("#cam-cam0") and "door in 1" in page.inner_text("#cam-cam0")
                assert f"{state['totals']['people']} people" in page.inner_text("#totals")
                img = page.locator("#cam-cam1 img")
                assert img.evaluate("i => i.complete && i.naturalWidth") == 480  # the camera's small frame
                page.screenshot(path=str(tmp_path / "site.png"), full_page=True)
                assert requests and all(u.startswith(s.url) for u in requests), "the page loads nothing from elsewhere"
            finally:
                browser.close()
    finally:
        s.stop()
