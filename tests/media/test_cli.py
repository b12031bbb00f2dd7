"""``poe-mcp image|video|audio`` against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator

from .conftest import KEY, files_in, write_config

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


def run(sim: Simulator, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--base-url", sim.base_url], env={"POE_API_KEY": KEY})
    return result.exit_code, result.stdout, result.stderr


def test_image_prints_the_saved_path(simulator: Simulator, tmp_path: Path) -> None:
    out_dir = tmp_path / "pictures"
    code, out, err = run(simulator, "image", "a red fox", "-p", "aspect=16:9", "-o", str(out_dir))
    assert code == 0, err
    path = Path(out.strip())
    assert path.parent == out_dir
    assert path.suffix == ".png"
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == (114, 64)
    assert "asking GPT-Image-1 for an image" in err
    assert "cost $0.04" in err


def test_video_json_and_audio_params(simulator: Simulator, poe_home: Path) -> None:
    code, out, err = run(simulator, "video", "waves", "-p", "duration=2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["kind"] == "video"
    assert data["model"] == "Veo-3"
    assert Path(data["paths"][0]).read_bytes()[4:8] == b"ftyp"
    assert Path(data["paths"][0]).parent == poe_home / "media"
    code, out, err = run(simulator, "audio", "hello", "-p", "format=wav", "-m", "ElevenLabs", "-q")
    assert code == 0
    assert err == ""
    assert Path(out.strip()).read_bytes()[:4] == b"RIFF"


def test_no_download_prints_the_url(simulator: Simulator, poe_home: Path) -> None:
    code, out, _ = run(simulator, "audio", "hello", "--no-download", "-q")
    assert code == 0
    assert out.startswith("http://127.0.0.1:")
    assert out.strip().endswith(".mp3")
    assert files_in(poe_home / "media") == []


def test_progress_lines_while_a_slow_bot_works(slow_sim: Simulator, tmp_path: Path) -> None:
    write_config("[media]\nprogress_interval_s = 0.2\n")
    code, out, err = run(slow_sim, "image", "slow fox", "-o", str(tmp_path / "o"))
    assert code == 0, err
    assert err.count("waiting for GPT-Image-1 to make the image") >= 3
    assert Path(out.strip()).exists()


def test_errors_are_one_clear_line_and_leave_nothing(simulator: Simulator, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "POE_BASE_URL"}
    env["POE_API_KEY"] = KEY
    out_dir = tmp_path / "o"
    base = [POE_MCP, "image", "--base-url", simulator.base_url, "-q", "-o", str(out_dir)]
    media = subprocess.run([*base, "draw a cat", "-m", "GPT-4.1"],
                           env=env, capture_output=True, text=True, timeout=30)  # fmt: skip
    big = subprocess.run([*base, "fox", "--max-bytes", "50"],
                         env=env, capture_output=True, text=True, timeout=30)  # fmt: skip
    assert media.returncode == 1
    assert media.stdout == ""
    # refused before anything is sent: the catalog says GPT-4.1 makes text
    assert media.stderr.startswith("error (invalid_request): GPT-4.1 makes text, not image")
    assert "Traceback" not in media.stderr
    assert big.returncode == 1
    assert "error (too_large)" in big.stderr
    assert files_in(out_dir) == []
