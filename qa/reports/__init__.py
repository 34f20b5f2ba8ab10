"""Reports people look at: the static HTML site (overview, manager and call pages with the
recording), served locally by ``qa serve``, and the same tables as an Excel workbook.

``build_site(ws, out_dir, day=..., manager=...)`` writes the site; ``serve(root, ...)``
serves a folder with HTTP Range support (audio seeking). Charts are inline SVG from
:mod:`qa.reports.charts`.
"""

from __future__ import annotations

from .data import Period
from .serve import make_server, serve
from .site import AUDIO_MODES, ReportOptions, SiteResult, build_site

__all__ = [
    "AUDIO_MODES",
    "Period",
    "ReportOptions",
    "SiteResult",
    "build_site",
    "make_server",
    "serve",
]
