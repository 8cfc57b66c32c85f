"""Where the tests find what the repository does not hold: real NSE files and KubeRay's CRDs.

Both live in a ``shared`` folder, by default beside the clone (``<repo>/../shared``); set
``UCTUNE_SHARED`` to use another. A test module that needs one marks itself with :func:`needs`: on a
clone without it those tests are skipped, and the reason names the folder looked for. CI has both, and
``.ci/run`` refuses to run without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("UCTUNE_SHARED") or REPO_ROOT.parent / "shared")
REAL_DATA = SHARED / "data" / "real"
"""The real NSE files (bhavcopies, price bands, a results calendar, press-release bundles)."""
CRD_DIR = SHARED / "k8s-crds"
"""KubeRay's CustomResourceDefinitions (RayCluster, RayJob, RayService, RayCronJob)."""


def needs(folder: Path, what: str) -> pytest.MarkDecorator:
    """Skip the marked tests when ``folder`` (``what`` it holds) is absent, saying so."""
    return pytest.mark.skipif(
        not folder.is_dir(),
        reason=f"{what} not found in {folder} (set UCTUNE_SHARED to the folder that holds it)",
    )
