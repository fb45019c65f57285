"""The reporter pages' cryptography agrees with SafeVoice's Python: it reproduces the v1
known-answer vectors (tests/vectors), opens attachments Python encrypted and writes attachments
Python opens, byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from safevoice.crypto.stream import CHUNK_PLAINTEXT, Decryptor, FileKey, encrypt_bytes
from safevoice.errors import VerificationFailed

HERE = Path(__file__).parent
SIZES = (0, 1, CHUNK_PLAINTEXT - 1, CHUNK_PLAINTEXT, CHUNK_PLAINTEXT + 1, 2 * CHUNK_PLAINTEXT + 3)


def run_node(script: str, *args: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to check the browser's cryptography (see README).")
    result = subprocess.run(
        [node, str(HERE / script), *args], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_browser_crypto_module_reproduces_every_known_answer_vector() -> None:
    output = run_node("vectors.mjs")
    assert output.strip().splitlines()[-1] == "all vectors reproduced"
    checked = {line.split()[1] for line in output.splitlines() if line.startswith("ok ")}
    assert {"envelope", "manifest", "follow_up_code", "wrapped_key", "proof_of_work"} <= checked
    assert "case_id" in checked


def test_attachments_from_python_open_in_the_browser_and_the_browsers_open_in_python(
    tmp_path: Path,
) -> None:
    from_python, for_python = [], []
    for size in SIZES:
        plain = os.urandom(size)
        (tmp_path / f"plain-{size}").write_bytes(plain)
        file_id = f"py-{size}"
        file_key, chunks = encrypt_bytes(file_id, plain)
        (tmp_path / f"py-{size}.sealed").write_bytes(b"".join(chunks))
        from_python.append(
            {
                "file_id": file_id,
                "key_hex": file_key.key.hex(),
                "header_hex": file_key.header.hex(),
                "chunks": len(chunks),
                "plain": f"plain-{size}",
                "sealed": f"py-{size}.sealed",
            }
        )
        for_python.append(
            {"file_id": f"js-{size}", "plain": f"plain-{size}", "sealed": f"js-{size}.sealed"}
        )
    (tmp_path / "spec.json").write_text(
        json.dumps({"from_python": from_python, "for_python": for_python})
    )

    run_node("stream.mjs", str(tmp_path))

    made = json.loads((tmp_path / "answer.json").read_text())["made"]
    assert [m["file_id"] for m in made] == [f["file_id"] for f in for_python]
    for size, entry in zip(SIZES, made, strict=True):
        sealed = (tmp_path / entry["sealed"]).read_bytes()
        key = FileKey(
            key=bytes.fromhex(entry["key_hex"]), header=bytes.fromhex(entry["header_hex"])
        )
        opener = Decryptor(entry["file_id"], key, chunks=entry["chunks"])
        step = len(sealed) // entry["chunks"]
        opened = b"".join(opener.update(sealed[i : i + step]) for i in range(0, len(sealed), step))
        assert opener.finished
        assert opened == (tmp_path / f"plain-{size}").read_bytes(), size
        with pytest.raises(VerificationFailed):
            Decryptor("another-file", key, chunks=entry["chunks"]).update(sealed[:step])
