"""The picture of the site page in the README: `maskwatch serve --site` over four live MJPEG
cameras on 127.0.0.1 (two door cameras with faces from the shipped examples walking across a
door line, one panning over a kaggle-853 street photo, one unreachable), shot in Chromium.

    python scripts/site_screenshot.py docs/site_page.png  (the README has it as JPEG, docs/site_page.jpg) [--seconds 45]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def clip_frames(path: Path) -> list:
    cap, out = cv2.VideoCapture(str(path)), []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--street", default="../shared/data/kaggle-853/images/maksssksksss0.jpg")
    args = ap.parse_args()
    from mjpeg_server import MjpegServer
    from playwright.sync_api import sync_playwright
    from test_serve import Server, free_port

    from maskwatch.clips import face_sprite, make_walk_clip, pan_frames
    from maskwatch.imageio import read_image

    ex = ROOT / "examples"
    sprites = [
        face_sprite(read_image(ex / "closeup_563.jpg"), (70, 53, 204, 205)),
        face_sprite(read_image(ex / "street_717.jpg"), (76, 128, 142, 185)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        feeds = []
        for k, walks in enumerate(
            [
                [(0, 0.1, 0.9, 0.55, 0, 79), (1, 0.9, 0.1, 0.3, 60, 139)],
                [(1, 0.1, 0.9, 0.5, 0, 89), (0, 0.1, 0.9, 0.35, 100, 179)],
            ]
        ):
            make_walk_clip(sprites, walks, tmp / f"door{k}.avi", frames=200, seed=k)
            feeds.append(clip_frames(tmp / f"door{k}.avi"))
        street = Path(args.street)
        feeds.append(list(pan_frames(read_image(street if street.is_file() else ex / "street_717.jpg"), 250)))
        servers = [MjpegServer(f, fps=25, max_seconds=args.seconds + 60).start() for f in feeds]
        names = ["front-door", "back-door", "street"]
        text = "".join(
            f'[[cameras]]\nname = "{n}"\nsource = "{s.url}"\n'
            + ("lines = { door = [0.5, 0.0, 0.5, 1.0] }\n" if "door" in n else "")
            + ("zones = { right = [0.5, 0.0, 1.0, 0.0, 1.0, 1.0, 0.5, 1.0] }\n" if n == "front-door" else "")
            + "\n"
            for n, s in zip(names, servers)
        )
        text += f'[[cameras]]\nname = "car-park"\nsource = "http://127.0.0.1:{free_port()}/stream.mjpg"\n'
        (tmp / "site.toml").write_text(text)
        server = Server("--site", str(tmp / "site.toml"))
        try:
            time.sleep(args.seconds)
            chromium = shutil.which("chromium") or shutil.which("chromium-browser")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                page.goto(server.url + "/site")
                page.wait_for_timeout(4000)
                page.screenshot(path=args.out, full_page=True)
                browser.close()
        finally:
            server.stop()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
