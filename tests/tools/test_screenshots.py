"""The README's screenshots: ``python -m measure screenshots`` on one page, with the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from measure import cli, screenshots


def test_an_unknown_page_is_refused_with_the_names_to_choose_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["screenshots", "--pages", "search,nowhere", "--out", str(tmp_path)]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # no server started, nothing written


@pytest.mark.slow
@pytest.mark.browser
def test_the_search_page_is_saved_drawn_with_its_results(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from PIL import Image

    out = tmp_path / "images"
    argv = ["screenshots", "--pages", "search", "--out", str(out), "--model", str(tiny_model_dir)]
    assert cli.main([*argv, "--data-dir", str(tmp_path / "data")]) == 0
    assert [p.name for p in out.iterdir()] == ["search.png"]
    with Image.open(out / "search.png") as image:
        width, height = image.size
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    cap = next(s.max_height for s in screenshots.SHOTS if s.name == "search")
    assert width == screenshots.WIDTH and 700 <= height <= cap
    assert colours is None or len(colours) > 50  # drawn text and cards, not a blank page
