"""The example that opens docs/pva-protocol.rst runs as written and prints what it says."""
import os
import subprocess
import sys

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "docs", "pva-protocol.rst")


def test_opening_example_runs(tmp_path):
    with open(PAGE, encoding="utf-8") as f:
        text = f.read()
    block = text.split("::\n\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    script = tmp_path / "example.py"
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True"]      # the comment of its last line
