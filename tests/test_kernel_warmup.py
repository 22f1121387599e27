"""The kernel warm-up creates every numba signature a render uses, so workers compile nothing,
and the child that runs it fills an empty cache."""
import json
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
from codecstyle.engine.kernel_warmup import warm_kernels
from codecstyle.native import distortion, feather, match, propagate
kernels = {"candidate_costs": match.candidate_costs, "compose_field": propagate.compose_field,
           "render": propagate._render, "feather_blocks": feather.feather_blocks,
           "block_distortion": distortion.block_distortion}
warm_kernels()
warmed = {name: len(k.signatures) for name, k in kernels.items()}
from codecstyle.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
print(json.dumps({"warmed": warmed, "after": {name: len(k.signatures) for name, k in kernels.items()}}))
"""


@pytest.mark.parametrize("mode", ["codec", "flow"])
def test_a_render_adds_no_kernel_signature(ipb_clip, tmp_path, mode):
    # quality 0.8 turns the distortion check on; the clip's B-frames give bi-predicted cells
    args = ["process", ipb_clip, "-o", str(tmp_path / "out.mp4"), "-q", "--mode", mode,
            "--quality", "0.8", "--workers", "1"]
    result = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["warmed"] == {name: 1 for name in counts["warmed"]}
    assert counts["after"] == counts["warmed"]


def test_warm_in_child_fills_an_empty_kernel_cache(tmp_path, monkeypatch):
    from codecstyle.engine.kernel_warmup import warm_in_child

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    child = warm_in_child()
    assert child is not None and child.wait(timeout=300) == 0
    indexes = sorted(p.name.split("-")[0] for p in tmp_path.rglob("*.nbi"))
    assert indexes == ["distortion.block_distortion", "feather.feather_blocks", "match.candidate_costs",
                       "propagate._render", "propagate.compose_field"]
