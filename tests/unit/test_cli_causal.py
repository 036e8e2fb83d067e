"""``python -m core next-token`` and ``generate`` on the tiny Llama: the JSON contract as real
subprocesses, the rest through ``core.cli.main`` in this process (each subprocess imports
torch again)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import cli as core_cli
from core.explain import causal, generation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tiny_llama_dir: Path, data_dir: Path):
    env = dict(os.environ, EMBEDLAB_CAUSAL_MODEL=str(tiny_llama_dir))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "core", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


@pytest.fixture
def main(tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    monkeypatch.setenv("EMBEDLAB_CAUSAL_MODEL", str(tiny_llama_dir))

    def run(*args: str) -> tuple[int, str, str]:
        code = core_cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_next_token_json(cli, tiny_llama) -> None:
    proc = cli("next-token", "the cat and", "-k", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    expected = causal.next_token(tiny_llama, "the cat and", k=3)
    assert out["text"] == "the cat and" and out["tokens"] == list(expected.tokens)
    assert [t["id"] for t in out["top"]] == [g.id for g in expected.top]
    assert out["top"][0] == {
        "token": expected.top[0].token,
        "id": expected.top[0].id,
        "prob": round(expected.top[0].prob, 6),
    }
    assert len(out["by_layer"]) == 3 and out["by_layer"][-1]["choice_rank"] == 1
    assert [t["id"] for t in out["by_layer"][-1]["top"]] == [g.id for g in expected.top]


def test_generate_json_greedy_and_sampled(cli, tiny_llama) -> None:
    proc = cli("generate", "the cat", "--max-new-tokens", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    expected = generation.generate(tiny_llama, "the cat", 4)
    assert out["prompt"] == "the cat" and out["text"] == expected.text
    assert [s["id"] for s in out["steps"]] == [s.id for s in expected.steps]
    assert set(out["steps"][0]) == {"token", "id", "prob", "top"}
    args = ("generate", "the cat", "--max-new-tokens", "4", "--temperature", "1.5")
    sampled = json.loads(cli(*args, "--seed", "3", "--json").stdout)
    same = generation.generate(tiny_llama, "the cat", 4, temperature=1.5, seed=3)
    assert [s["id"] for s in sampled["steps"]] == [s.id for s in same.steps]


def test_plain_output(main) -> None:
    code, out, _ = main("next-token", "the cat", "-k", "2")
    assert code == 0 and "entropy" in out and len(out.splitlines()) == 3
    assert main("generate", "the cat", "--max-new-tokens", "2")[1].startswith("the cat")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("next-token", ""), "Type some text"),
        (("next-token", "a\x01b"), "control character"),
        (("next-token", "the cat", "--temperature", "0"), "divide by zero"),
        (("generate", "the cat", "--temperature", "1e9"), "outside"),
        (("generate", "the cat", "--max-new-tokens", "0"), "1 to 200"),
        (("generate", "the cat", "--max-new-tokens", "5000"), "1 to 200"),
    ],
)
def test_bad_input_exits_2_with_a_message(main, args, message) -> None:
    code, out, err = main(*args)
    assert code == 2 and message in err and not out


def test_a_cut_is_stated_on_stderr(main) -> None:
    code, out, err = main("next-token", "the cat " * 60, "--json")
    assert code == 0 and "were cut" in err
    assert json.loads(out)["cut"] > 0
