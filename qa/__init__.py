"""Offline call quality assurance for sales departments.

The flow is one direction::

    audio -> transcribe -> transcripts -> matching -> scoring -> store
          -> scorecards / coaching / mining -> reports

``qa.cli`` is a thin shell over ``qa.pipeline``; notebooks use the same functions.
"""

__version__ = "0.1.0"
